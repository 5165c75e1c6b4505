/**
 * Memory used again instead of fresh memory per use. V8 counts the external memory (ArrayBuffers)
 * allocated since the last full collection against the old generation's room, so buffers made and
 * dropped at the message rate start full collections by themselves, however little the heap holds
 * (docs/decisions.md, "Full collections from external memory"). `release` hands a buffer's memory
 * back once nothing reads it any more; a buffer never released is only garbage, and one larger than
 * the largest slab is fresh memory.
 *
 * By default the slabs' sizes are powers of two, and `alloc` gives the start of a free slab of the
 * smallest size that fits, as a view of the size asked for (60-130 ns). `wholeBuffers` pools
 * resizable ArrayBuffers instead, each set to the size asked for, so a buffer is its whole
 * ArrayBuffer (what the InfluxDB writer sends without a copy, influx-line-writer.ts); a resize costs
 * a system call or two (2-10 µs), fine per request, too much per journal record.
 */
export class BufferPool {
  /** Free slabs by capacity. */
  private readonly free = new Map<number, ArrayBuffer[]>()
  /** The capacity of each slab this pool made. */
  private readonly capacity = new WeakMap<ArrayBuffer, number>()

  constructor(
    /** The smallest slab. */
    private readonly minBytes: number,
    /** The largest slab: `alloc` gives fresh memory for more. */
    private readonly maxBytes: number,
    /** Free slabs kept at most, of each capacity (about as many as are in use at once under load). */
    private readonly keep: number,
    private readonly resizable = false,
  ) {}

  /** Resizable buffers of up to `maxBytes`, each given as its whole ArrayBuffer. */
  static wholeBuffers(maxBytes: number, keep: number): BufferPool {
    return new BufferPool(maxBytes, maxBytes, keep, true)
  }

  /** `size` bytes, not zeroed, from a slab of the pool, or fresh memory past the largest. */
  readonly alloc = (size: number): Buffer => {
    if (size > this.maxBytes) return Buffer.allocUnsafeSlow(size)
    const capacity = size <= this.minBytes ? this.minBytes : 2 ** (32 - Math.clz32(size - 1))
    const ab = this.free.get(capacity)?.pop() ?? this.create(capacity)
    if (this.resizable) (ab as ResizableArrayBuffer).resize(size)
    return Buffer.from(ab, 0, size)
  }

  /** `buf` (from `alloc`) is read no more: its slab may be given again. Anything else is ignored. */
  release(buf: Uint8Array): void {
    const ab = buf.buffer as ArrayBuffer
    const capacity = this.capacity.get(ab)
    if (capacity === undefined) return
    let list = this.free.get(capacity)
    if (!list) this.free.set(capacity, (list = []))
    if (list.length < this.keep && !list.includes(ab)) list.push(ab)
  }

  private create(capacity: number): ArrayBuffer {
    const ab = this.resizable ? new (ArrayBuffer as ResizableArrayBufferConstructor)(0, { maxByteLength: capacity }) : (Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer)
    this.capacity.set(ab, capacity)
    return ab
  }
}

// Resizable ArrayBuffers (ES2024; Node 20's V8 has them) are not in this project's TypeScript lib.
type ResizableArrayBuffer = ArrayBuffer & { resize(length: number): void }
type ResizableArrayBufferConstructor = new (length: number, options: { maxByteLength: number }) => ArrayBuffer
