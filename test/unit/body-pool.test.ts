import { describe, expect, it } from 'vitest'
import { BodyPool, EMPTY_BODY, joinLineBodies } from '../../src/spool/line-bodies.js'

const bytes = (s: string) => Buffer.from(s, 'utf8')

describe('BodyPool', () => {
  it('joins bodies by newlines, leaving empty ones out, like joinLineBodies', () => {
    const pool = new BodyPool()
    const parts = [bytes('a v=1 1'), bytes(''), bytes('b v=2 2\nc v=3 3')]
    const body = pool.join(parts)
    expect(body.toString()).toBe('a v=1 1\nb v=2 2\nc v=3 3')
    expect(body.equals(joinLineBodies(parts))).toBe(true)
    expect(pool.join([bytes('')])).toBe(EMPTY_BODY)
  })

  it('gives a body that is its whole ArrayBuffer (the writer sends it without a copy)', () => {
    const body = new BodyPool().join([bytes('a v=1 1'), bytes('b v=2 2')])
    expect(body.byteOffset).toBe(0)
    expect(body.buffer.byteLength).toBe(body.length)
  })

  it('gives an only body as it is when it is its whole ArrayBuffer, and a copy in whole memory when it is a view', () => {
    const pool = new BodyPool()
    const own = Buffer.from(new ArrayBuffer(7))
    own.write('a v=1 1')
    expect(pool.join([own, bytes('')])).toBe(own)
    // A view into a larger slab (a part's body): the writer could not send it without a copy.
    const slab = Buffer.alloc(64, 0x2a)
    slab.write('b v=2 2', 8)
    const view = slab.subarray(8, 15)
    const body = pool.join([view])
    expect(body.toString()).toBe('b v=2 2')
    expect(body.buffer).not.toBe(slab.buffer)
    expect([body.byteOffset, body.byteLength]).toEqual([0, body.buffer.byteLength])
  })

  it('uses a released body’s memory for the next one, and never one still held', () => {
    const pool = new BodyPool()
    const first = pool.join([bytes('a v=1 1'), bytes('b v=2 2')])
    const held = pool.join([bytes('c v=3 3'), bytes('d v=4 4')])
    expect(held.buffer).not.toBe(first.buffer)
    pool.release(first)
    pool.release(first) // twice: still one entry
    const next = pool.join([bytes('a much longer line v=10 10'), bytes('x v=1 1')])
    expect(next.buffer).toBe(first.buffer)
    expect(next.toString()).toBe('a much longer line v=10 10\nx v=1 1')
    expect(held.toString()).toBe('c v=3 3\nd v=4 4')
    const fresh = pool.join([bytes('e v=5 5'), bytes('f v=6 6')])
    expect([first.buffer, held.buffer]).not.toContain(fresh.buffer)
  })

  it('joins a body larger than its buffers into fresh memory, which release ignores', () => {
    const pool = new BodyPool(16)
    const big = pool.join([bytes('0123456789'), bytes('0123456789')])
    expect(big.toString()).toBe('0123456789\n0123456789')
    pool.release(big)
    const small = pool.join([bytes('a'), bytes('b')])
    expect(small.buffer).not.toBe(big.buffer)
  })

  it('does not take back what it did not make', () => {
    const pool = new BodyPool()
    const foreign = Buffer.from(new ArrayBuffer(8))
    pool.release(foreign)
    expect(pool.join([bytes('a'), bytes('b')]).buffer).not.toBe(foreign.buffer)
  })
})
