/** Message indexes of one series, as a growable bitmap (indexes are dense from 0). */
export class IndexSet implements Iterable<number> {
  private bits = new Uint32Array(64)
  size = 0

  add(i: number): void {
    const w = i >>> 5
    if (w >= this.bits.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.bits.length * 2))
      grown.set(this.bits)
      this.bits = grown
    }
    const m = 1 << (i & 31)
    if ((this.bits[w]! & m) === 0) {
      this.bits[w]! |= m
      this.size++
    }
  }

  has(i: number): boolean {
    const w = i >>> 5
    return w < this.bits.length && (this.bits[w]! & (1 << (i & 31))) !== 0
  }

  *[Symbol.iterator](): Iterator<number> {
    for (let w = 0; w < this.bits.length; w++) {
      const word = this.bits[w]!
      if (word === 0) continue
      for (let b = 0; b < 32; b++) if (word & (1 << b)) yield w * 32 + b
    }
  }
}
