import { describe, expect, it } from 'vitest'
import { ByteKeyedCache, internedText } from '../../src/pipeline/byte-keyed-cache.js'
import { LineSink } from '../../src/pipeline/line-sink.js'
import { joinLineBodies } from '../../src/spool/line-bodies.js'
import { decodeFrames, encodeFrame } from '../../src/spool/message-frame.js'

describe('LineSink', () => {
  it('writes integers below 2^53 as JavaScript prints them, across every digit count', () => {
    const values = [0, 7, 10, 99, 100, 123456789, 999_999_999, 1e9, 1_000_000_001, 1_800_000_000_000, 1_799_999_999_999, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]
    for (let d = 1; d < 16; d++) values.push(10 ** d - 1, 10 ** d, 10 ** d + 1)
    const sink = new LineSink(8)
    for (const v of values) {
      sink.begin()
      sink.uint(v)
    }
    expect(sink.take().toString()).toBe(values.map(String).join('\n'))
  })

  it('joins lines with newlines, grows past its first buffer, takes back a rewound message, and keeps its bytes after take()', () => {
    const sink = new LineSink(4)
    sink.line('a,b=1 v=1 1')
    const [pos, lines] = [sink.length, sink.lines]
    sink.line('dropped')
    sink.begin()
    sink.ascii('also dropped')
    sink.rewind(pos, lines)
    sink.begin()
    sink.bytes(Buffer.from('m '))
    sink.utf8('välue="ü"')
    sink.byte(0x20)
    sink.uint(42)
    expect(sink.lines).toBe(2)
    const body = sink.take()
    expect(body.toString()).toBe('a,b=1 v=1 1\nm välue="ü" 42')
    // The next sink reuses the working buffer: what was taken must not change.
    const next = new LineSink(4)
    next.line('x'.repeat(100))
    expect(next.take().length).toBe(100)
    expect(body.toString()).toBe('a,b=1 v=1 1\nm välue="ü" 42')
    expect(sink.view(0, 11).toString()).toBe('a,b=1 v=1 1')
    expect(sink.take()).toBe(body)
  })

  it('joins bodies, leaving out empty ones', () => {
    expect(joinLineBodies([Buffer.from('a'), Buffer.alloc(0), new Uint8Array(Buffer.from('b\nc'))]).toString()).toBe('a\nb\nc')
    expect(joinLineBodies([Buffer.alloc(0)]).length).toBe(0)
  })
})

describe('ByteKeyedCache', () => {
  it('finds values by the bytes of a key wherever they sit, holds colliding keys apart, and starts again past its bound', () => {
    const cache = new ByteKeyedCache<string>(1000)
    const names = Array.from({ length: 500 }, (_, i) => `sig_${i}`)
    const payload = Buffer.from(`xx${names.join('')}yy`)
    let at = 2
    const spans = names.map((n) => [at, (at += n.length)] as const)
    spans.forEach(([s, e], i) => cache.set(payload, s, e, names[i]!))
    // The same bytes in another buffer at another offset.
    const other = Buffer.from(`--${names[123]}`)
    expect(cache.get(other, 2, other.length)).toBe('sig_123')
    spans.forEach(([s, e], i) => expect(cache.get(payload, s, e)).toBe(names[i]))
    expect(cache.get(Buffer.from('sig_'), 0, 4)).toBeUndefined()
    // Keys copied: changing the payload later does not change them.
    payload.fill(0)
    expect(cache.get(other, 2, other.length)).toBe('sig_123')
    // FNV-1a collisions ("costarring" and "liquid" share a 32-bit hash).
    const a = Buffer.from('costarring')
    const b = Buffer.from('liquid')
    cache.set(a, 0, a.length, 'A')
    cache.set(b, 0, b.length, 'B')
    expect([cache.get(a, 0, a.length), cache.get(b, 0, b.length)]).toEqual(['A', 'B'])
    const bounded = new ByteKeyedCache<number>(3)
    for (let i = 0; i < 4; i++) bounded.set(Buffer.from(`k${i}`), 0, 2, i)
    expect(bounded.get(Buffer.from('k0'), 0, 2)).toBeUndefined()
    expect(bounded.get(Buffer.from('k3'), 0, 2)).toBe(3)
  })
})

describe('internedText', () => {
  it('reads UTF-8 as toString does, and gives the same string for the same bytes wherever they sit', () => {
    const text = internedText(2)
    const key = Buffer.from('/zone-ü/f1')
    const buf = Buffer.concat([Buffer.from('xx'), key, Buffer.from('|'), key, Buffer.from('other')])
    const second = 2 + key.length + 1
    const a = text(buf, 2, 2 + key.length)
    expect(a).toBe('/zone-ü/f1')
    expect(text(buf, second, second + key.length)).toBe(a)
    expect(text(buf, buf.length - 5, buf.length)).toBe('other')
    expect(text(buf, 0, 1)).toBe('x')
    // That key went past the bound of two: the cache started again, and still reads right.
    expect(text(buf, 2, 2 + key.length)).toBe('/zone-ü/f1')
    expect(text(Buffer.alloc(0), 0, 0)).toBe('')
  })

  it('reads the topics and gateway ids of frames the same with or without it', () => {
    const frames = [encodeFrame('iiot/v1/z1/f1/l1/m1/telemetry', 'gw-1', 1, 1700000000000, Buffer.from([1, 2, 3])), encodeFrame('iiot/v1/z1/f1/l1/m2/state', 'gw-ü', 0, 1700000000001, Buffer.alloc(0))]
    const bytes = Buffer.concat(frames)
    expect(decodeFrames(bytes, internedText(10))).toEqual(decodeFrames(bytes))
  })
})

describe('LineSink.number', () => {
  /** What the sink writes for `n`, as text. */
  const written = (n: number) => {
    const sink = new LineSink(8)
    sink.begin()
    sink.number(n)
    return sink.take().toString()
  }

  it('writes every kind of number exactly as String() prints it', () => {
    const edge = [0, -0, 1, -1, 0.1, 0.2, 0.3, 1.1, 2.675, 1e-6, 1.5e-6, 9.99e-7, 1e-7, 123456.789, 1e15 - 1, 1e15, 1e15 + 2, 2 ** 53, -(2 ** 53), 1e21, 1e22, 0.000123, 5e-324, Number.MAX_VALUE, -Number.MIN_VALUE, 4.35, 0.07, 1234.5678, 999999.999999, 0.1 + 0.2, 1 / 3, NaN, Infinity, -Infinity]
    for (const n of edge) expect(written(n), `${n}`).toBe(String(n))
  })

  it('agrees with String() over a million random values: fixed resolutions, magnitudes and raw doubles', () => {
    // A seeded generator, so a failure repeats.
    let seed = 0x2545f491
    const rnd = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0) >>> 0) / 2 ** 32
    const buf = new DataView(new ArrayBuffer(8))
    let mismatches = 0
    const examples: string[] = []
    for (let i = 0; i < 1_000_000; i++) {
      let n: number
      const kind = i % 4
      if (kind === 0) n = Math.round((rnd() - 0.5) * 10 ** Math.floor(rnd() * 16)) / 10 ** Math.floor(rnd() * 9)
      else if (kind === 1) n = (rnd() - 0.5) * 10 ** (Math.floor(rnd() * 40) - 20)
      else if (kind === 2) n = Number(((rnd() - 0.5) * 2000).toFixed(Math.floor(rnd() * 8)))
      else {
        buf.setUint32(0, rnd() * 2 ** 32)
        buf.setUint32(4, rnd() * 2 ** 32)
        n = buf.getFloat64(0)
      }
      if (written(n) !== String(n)) {
        mismatches++
        if (examples.length < 5) examples.push(`${String(n)} written as ${written(n)}`)
      }
    }
    expect(examples).toEqual([])
    expect(mismatches).toBe(0)
  })
})
