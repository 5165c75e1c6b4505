/**
 * Buffers used again instead of fresh memory per use. V8 counts the external memory (ArrayBuffers)
 * allocated since the last full collection against the old generation's room, so buffers made and
 * dropped at the message rate start full collections by themselves, however little the heap holds
 * (docs/decisions.md, "Full collections from external memory"). Each buffer is a resizable
 * ArrayBuffer set to the length asked for, so what `alloc` gives is its whole ArrayBuffer (the
 * InfluxDB writer sends such a body without a copy, influx-line-writer.ts). `release` hands a
 * buffer back once nothing reads it any more; one never released is only garbage.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = []
  private readonly mine = new WeakSet<ArrayBuffer>()

  constructor(
    /** Larger than this, `alloc` gives fresh memory, which `release` ignores. */
    private readonly maxBytes = 32 * 1024 * 1024,
    /** Buffers kept for reuse at most (one per use in flight at once is enough). */
    private readonly keep = 8,
  ) {}

  /** `size` bytes, not zeroed: a whole buffer of the pool, or fresh memory past `maxBytes`. */
  readonly alloc = (size: number): Buffer => {
    if (size > this.maxBytes) return Buffer.allocUnsafe(size)
    const ab = this.free.pop() ?? this.create()
    ;(ab as ResizableArrayBuffer).resize(size)
    return Buffer.from(ab, 0, size)
  }

  /** `buf` (from `alloc`) is read no more: its memory may be given again. Anything else is ignored. */
  release(buf: Uint8Array): void {
    const ab = buf.buffer as ArrayBuffer
    if (!this.mine.has(ab) || this.free.length >= this.keep || this.free.includes(ab)) return
    this.free.push(ab)
  }

  private create(): ArrayBuffer {
    const ab = new (ArrayBuffer as ResizableArrayBufferConstructor)(0, { maxByteLength: this.maxBytes })
    this.mine.add(ab)
    return ab
  }
}

// Resizable ArrayBuffers (ES2024; Node 20's V8 has them) are not in this project's TypeScript lib.
type ResizableArrayBuffer = ArrayBuffer & { resize(length: number): void }
type ResizableArrayBufferConstructor = new (length: number, options: { maxByteLength: number }) => ArrayBuffer
