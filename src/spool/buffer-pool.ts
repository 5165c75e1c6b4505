/**
 * Memory used again instead of fresh memory per use. V8 counts the external memory (ArrayBuffers)
 * allocated since the last full collection against the old generation's room, so buffers made and
 * dropped at the message rate start full collections by themselves, however little the heap holds
 * (docs/decisions.md, "Full collections from external memory"). The pool holds slabs whose sizes
 * are powers of two; `alloc` gives the start of a free slab of the smallest size that fits, as a
 * Buffer of the size asked for (a view: no resizing, which cost a system call or two per buffer),
 * and `release` hands the slab back once nothing reads it any more. A buffer never released is
 * only garbage; one larger than the largest slab is fresh memory.
 */
export class BufferPool {
  /** Free slabs by size. */
  private readonly free = new Map<number, ArrayBuffer[]>()
  private readonly mine = new WeakSet<ArrayBuffer>()

  constructor(
    /** The smallest slab. */
    private readonly minBytes: number,
    /** The largest slab: `alloc` gives fresh memory for more. */
    private readonly maxBytes: number,
    /** Free slabs kept at most, of each size (about as many as are in use at once under load). */
    private readonly keep: number,
  ) {}

  /** `size` bytes, not zeroed: the start of a slab of the pool, or fresh memory past the largest. */
  readonly alloc = (size: number): Buffer => {
    if (size > this.maxBytes) return Buffer.allocUnsafeSlow(size)
    const slab = size <= this.minBytes ? this.minBytes : 2 ** (32 - Math.clz32(size - 1))
    return Buffer.from(this.free.get(slab)?.pop() ?? this.create(slab), 0, size)
  }

  /** `buf` (from `alloc`) is read no more: its slab may be given again. Anything else is ignored. */
  release(buf: Uint8Array): void {
    const ab = buf.buffer as ArrayBuffer
    if (!this.mine.has(ab)) return
    let list = this.free.get(ab.byteLength)
    if (!list) this.free.set(ab.byteLength, (list = []))
    if (list.length < this.keep && !list.includes(ab)) list.push(ab)
  }

  private create(bytes: number): ArrayBuffer {
    const ab = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer
    this.mine.add(ab)
    return ab
  }
}
