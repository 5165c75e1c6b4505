import { EMPTY_BODY } from '../spool/line-bodies.js'

/**
 * Line protocol written as bytes, lines separated by "\n" (none after the last), in one growing
 * buffer per decoded part of a batch: what the InfluxDB request's body will be, with no string
 * per line to build, join and encode on the way (docs/decisions.md, "Line protocol as bytes").
 * The telemetry fast path writes its lines here piece by piece; other lines arrive as strings.
 */
export class LineSink {
  private buf: Buffer
  private pos = 0
  private count = 0
  private taken: Buffer | undefined

  constructor(initialBytes = 16 * 1024) {
    // One working buffer per thread, handed from sink to sink: a fresh 64 KB ArrayBuffer per part
    // of every batch made V8 count that much more external memory, and collect more often.
    const s = spare
    spare = undefined
    this.buf = s && s.length >= initialBytes ? s : Buffer.allocUnsafe(initialBytes)
  }

  /** Lines written. */
  get lines(): number {
    return this.count
  }

  /** Bytes written. */
  get length(): number {
    return this.pos
  }

  /**
   * Takes back what was written since `length` was `pos` and `lines` was `lines` (a message's
   * lines, read before it was written). Two numbers, not a mark object: this runs per message.
   */
  rewind(pos: number, lines: number): void {
    this.pos = pos
    this.count = lines
  }

  /** Starts a line: the separator, unless it is the first. */
  begin(): void {
    if (this.count++ > 0) this.byte(0x0a)
  }

  /** A whole line given as a string. */
  line(text: string): void {
    this.begin()
    this.utf8(text)
  }

  byte(b: number): void {
    if (this.pos === this.buf.length) this.grow(1)
    this.buf[this.pos++] = b
  }

  bytes(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) this.grow(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** A string of ASCII characters (numbers as JavaScript prints them, fixed text): copied char by char. */
  ascii(s: string): void {
    const n = s.length
    if (this.pos + n > this.buf.length) this.grow(n)
    const buf = this.buf
    let p = this.pos
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i)
    this.pos = p
  }

  utf8(s: string): void {
    const max = s.length * 3
    if (this.pos + max > this.buf.length) this.grow(max)
    this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  /**
   * A finite number exactly as `String(n)` prints it (floatField in domain/line-protocol.ts), without
   * making that string when the number has at most six decimals: integers and values of a fixed
   * resolution (what sensors send) are written as digits. Anything else is printed by String().
   */
  number(n: number): void {
    NUMBERS[0] = n
    this.numberAt(NUMBERS, 0)
  }

  /**
   * `number(from[i])`, read from a typed array: a double passed to a call that is not inlined is
   * boxed into a heap object, and the fast path writes two such numbers per sample (its value and
   * timestamp), which were nine tenths of what it allocated.
   */
  numberAt(from: Float64Array, i: number): void {
    const n = from[i]!
    const a = n < 0 ? -n : n
    if (a < MAX_FIXED && a >= 1e-6) {
      // The first k whose scaled value is an integer that divides back to n is the shortest
      // decimal that reads back as n, which is what String() prints: below 1e15 the scaling's
      // rounding error is under 0.5, so Math.round finds that decimal's digits exactly.
      for (let k = 0; k <= 6; k++) {
        const p = POW10[k]!
        const r = Math.round(a * p)
        if (r / p !== a || r >= MAX_FIXED) continue
        if (n < 0) this.byte(0x2d)
        if (k === 0) {
          this.uint(r)
          return
        }
        const int = Math.floor(r / p)
        this.uint(int)
        this.byte(0x2e)
        this.fraction(r - int * p, k)
        return
      }
    }
    this.ascii(n === 0 ? '0' : String(n))
  }

  /** `f` as exactly `k` digits, leading zeros kept (k ≤ 9, f < 10^k). */
  private fraction(f: number, k: number): void {
    if (this.pos + k > this.buf.length) this.grow(k)
    const buf = this.buf
    let p = this.pos + k
    this.pos = p
    // Below 10^9, so an int32: V8 divides it by 10 with a multiplication, not a division.
    let x = f | 0
    for (let i = 0; i < k; i++) {
      const q = (x / 10) | 0
      buf[--p] = 0x30 + (x - q * 10)
      x = q
    }
  }

  /** A non-negative integer below 2^53, in decimal. */
  uint(n: number): void {
    NUMBERS[0] = n
    this.uintAt(NUMBERS, 0)
  }

  /** `uint(from[i])`, read from a typed array (see numberAt). */
  uintAt(from: Float64Array, i: number): void {
    const n = from[i]!
    if (this.pos + 16 > this.buf.length) this.grow(16)
    if (n < 1e9) {
      this.small(n)
      return
    }
    // Milliseconds since 1970 have 13 digits: the high part, then the low 9 with their zeros.
    const high = Math.floor(n / 1e9)
    this.small(high)
    this.nine(n - high * 1e9)
  }

  /** Below 10^9: small integers, so integer division. */
  private small(n: number): void {
    const buf = this.buf
    // An int32 from here on (n < 10^9): divisions by 10 become multiplications.
    let x = n | 0
    let digits = 1
    for (let y = x; y >= 10; y = (y / 10) | 0) digits++
    let p = this.pos + digits
    this.pos = p
    do {
      const q = (x / 10) | 0
      buf[--p] = 0x30 + (x - q * 10)
      x = q
    } while (x > 0)
  }

  /** Exactly nine digits, leading zeros kept. */
  private nine(n: number): void {
    const buf = this.buf
    let p = this.pos + 9
    this.pos = p
    let x = n | 0
    for (let i = 0; i < 9; i++) {
      const q = (x / 10) | 0
      buf[--p] = 0x30 + (x - q * 10)
      x = q
    }
  }

  /**
   * What was written, in a buffer of its own size (from `alloc`, a pool of buffers used again, or
   * fresh memory), which the sink reads from from then on; the working buffer goes to the next
   * sink. Nothing is written after this.
   */
  take(alloc: (size: number) => Buffer = Buffer.allocUnsafeSlow): Buffer {
    if (this.taken) return this.taken
    const out = this.pos === 0 ? EMPTY_BODY : alloc(this.pos)
    this.buf.copy(out, 0, 0, this.pos)
    if (!spare || this.buf.length > spare.length) spare = this.buf.length <= MAX_SPARE ? this.buf : undefined
    this.buf = this.taken = out
    return out
  }

  /** The bytes written so far, as a view (valid until the next write). */
  view(start = 0, end = this.pos): Buffer {
    return this.buf.subarray(start, end)
  }

  private grow(need: number): void {
    let size = this.buf.length * 2
    while (size < this.pos + need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }
}

/** Below this, a number scaled by up to 10^6 keeps its rounding error under 0.5 (and its digits under 2^53). */
const MAX_FIXED = 1e15
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000]
const NUMBERS = new Float64Array(1)

/** A working buffer larger than this (a batch of unusually long lines) is not kept for the next sink. */
const MAX_SPARE = 1024 * 1024
let spare: Buffer | undefined

