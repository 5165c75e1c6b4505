import { describe, expect, it } from 'vitest'
import { BufferPool } from '../../src/spool/buffer-pool.js'

describe('BufferPool', () => {
  it('gives the start of a slab, of the size asked for, and the slab again once released', () => {
    const pool = new BufferPool(64, 64, 4)
    const a = pool.alloc(10)
    expect([a.length, a.byteOffset, a.buffer.byteLength]).toEqual([10, 0, 64])
    a.write('0123456789')
    const held = pool.alloc(20)
    expect(held.buffer).not.toBe(a.buffer)
    held.fill(7)
    pool.release(a)
    pool.release(a) // twice: still one entry
    const b = pool.alloc(30)
    expect(b.buffer).toBe(a.buffer)
    expect(b.length).toBe(30)
    expect(held.every((x) => x === 7)).toBe(true)
    expect(pool.alloc(30).buffer).not.toBe(a.buffer)
  })

  it('gives fresh memory past a slab, and ignores what it did not make', () => {
    const pool = new BufferPool(16, 16, 4)
    const big = pool.alloc(17)
    expect(big.length).toBe(17)
    pool.release(big)
    pool.release(Buffer.alloc(8))
    const small = pool.alloc(8)
    expect(small.buffer).not.toBe(big.buffer)
    expect(small.buffer.byteLength).toBe(16)
  })

  it('keeps at most `keep` free slabs', () => {
    const pool = new BufferPool(8, 8, 2)
    const bufs = [pool.alloc(8), pool.alloc(8), pool.alloc(8)]
    for (const b of bufs) pool.release(b)
    const again = [pool.alloc(8), pool.alloc(8), pool.alloc(8)].map((b) => b.buffer)
    expect(again.filter((ab) => bufs.some((b) => b.buffer === ab))).toHaveLength(2)
  })

  it('gives the smallest slab that fits, a power of two from the smallest size up', () => {
    const pool = new BufferPool(16, 128, 4)
    expect([1, 16, 17, 32, 33, 100, 128].map((n) => pool.alloc(n).buffer.byteLength)).toEqual([16, 16, 32, 32, 64, 128, 128])
    const b = pool.alloc(40)
    pool.release(b)
    // A slab goes back to its own size: a smaller request does not take it, one of its size does.
    expect(pool.alloc(20).buffer).not.toBe(b.buffer)
    expect(pool.alloc(60).buffer).toBe(b.buffer)
  })
})
