/**
 * Memory used again instead of fresh memory per use. V8 counts the external memory (ArrayBuffers)
 * allocated since the last full collection against the old generation's room, so buffers made and
 * dropped at the message rate start full collections by themselves, however little the heap holds
 * (docs/decisions.md, "Full collections from external memory"). The pool holds slabs of one size;
 * `alloc` gives the start of a free one as a Buffer of the size asked for (a view: no resizing, which
 * cost a system call or two per buffer), and `release` hands its slab back once nothing reads it any
 * more. A buffer never released is only garbage; one larger than a slab is fresh memory.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = []
  private readonly mine = new WeakSet<ArrayBuffer>()

  constructor(
    /** The size of every slab: `alloc` gives fresh memory for more. */
    private readonly slabBytes: number,
    /** Free slabs kept at most (about as many as are in use at once under load). */
    private readonly keep: number,
  ) {}

  /** `size` bytes, not zeroed: the start of a slab of the pool, or fresh memory past a slab's size. */
  readonly alloc = (size: number): Buffer => {
    if (size > this.slabBytes) return Buffer.allocUnsafeSlow(size)
    return Buffer.from(this.free.pop() ?? this.create(), 0, size)
  }

  /** `buf` (from `alloc`) is read no more: its slab may be given again. Anything else is ignored. */
  release(buf: Uint8Array): void {
    const ab = buf.buffer as ArrayBuffer
    if (!this.mine.has(ab) || this.free.length >= this.keep || this.free.includes(ab)) return
    this.free.push(ab)
  }

  private create(): ArrayBuffer {
    const ab = Buffer.allocUnsafeSlow(this.slabBytes).buffer as ArrayBuffer
    this.mine.add(ab)
    return ab
  }
}
