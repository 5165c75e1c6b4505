/**
 * A map keyed by a run of bytes (a signal name or a unit as it sits in a protobuf payload), so
 * the telemetry fast path finds what it made for a name without decoding the name into a string
 * for every sample: the bytes are hashed (FNV-1a) and compared. At most `maxEntries` entries;
 * past that it starts again empty, so names a gateway invents cannot grow memory.
 */
export class ByteKeyedCache<V> {
  private readonly byHash = new Map<number, Entry<V>>()
  private size = 0

  constructor(private readonly maxEntries: number) {}

  get(buf: Uint8Array, start: number, end: number): V | undefined {
    for (let e = this.byHash.get(hashOf(buf, start, end)); e; e = e.next) if (sameBytes(e.key, buf, start, end)) return e.value
    return undefined
  }

  /** `key`: the bytes from `start` to `end` already copied, when the caller keeps such a copy too. */
  set(buf: Uint8Array, start: number, end: number, value: V, key: Uint8Array = copyOf(buf, start, end)): void {
    if (this.size >= this.maxEntries) this.clear()
    const h = hashOf(buf, start, end)
    this.byHash.set(h, { key, value, next: this.byHash.get(h) })
    this.size++
  }

  clear(): void {
    this.byHash.clear()
    this.size = 0
  }
}

/** Topics and gateway ids a thread's readers intern (the broker's publish reader, the journal's frame readers): as many machines' topics as a registry is expected to hold. */
export const TEXTS_INTERNED = 100_000

/**
 * A reader of UTF-8 text that returns the same string for the same bytes, from a cache of at most
 * `maxEntries`: a journal record's topics and gateway ids repeat from message to message, and one
 * string per machine (whose hash V8 keeps) is cheaper than a new one per message to decode, hash
 * for every map it is looked up in, and collect.
 */
export function internedText(maxEntries: number): (buf: Uint8Array, start: number, end: number) => string {
  const cache = new ByteKeyedCache<string>(maxEntries)
  return (buf, start, end) => {
    let s = cache.get(buf, start, end)
    if (s === undefined) {
      s = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8')
      cache.set(buf, start, end, s)
    }
    return s
  }
}

interface Entry<V> {
  readonly key: Uint8Array
  readonly value: V
  readonly next: Entry<V> | undefined
}

function hashOf(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193)
  return h | 0
}

/** The bytes from `start` to `end` as their own array: a view would keep the whole payload (a journal chunk) alive. */
export function copyOf(buf: Uint8Array, start: number, end: number): Uint8Array {
  // Not buf.slice(): on a Buffer that is a view.
  const key = new Uint8Array(end - start)
  key.set(buf.subarray(start, end))
  return key
}

/** Whether `key` holds the bytes of `buf` from `start` to `end`. */
export function sameBytes(key: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  return sameBytesAt(key, 0, key.length, buf, start, end)
}

/** Whether `key` from `keyStart` to `keyEnd` holds the bytes of `buf` from `start` to `end`. */
export function sameBytesAt(key: Uint8Array, keyStart: number, keyEnd: number, buf: Uint8Array, start: number, end: number): boolean {
  if (keyEnd - keyStart !== end - start) return false
  for (let i = keyStart, j = start; i < keyEnd; i++, j++) if (key[i] !== buf[j]) return false
  return true
}
