import { describe, expect, it } from 'vitest'
import { TailCache } from '../../src/spool/tail-cache.js'

const rec = (n: number, tag: number) => Buffer.alloc(n, tag)

describe('TailCache', () => {
  it('hands out each record once, in order, only once it is durable, and forgets those the reader passed', () => {
    const t = new TailCache(1000)
    t.add(1, 0, rec(10, 1))
    t.add(1, 10, rec(20, 2))
    t.add(1, 30, rec(5, 3))
    // Not durable yet: the second record ends at 30.
    expect(t.take(1, 0, 10)).toEqual(rec(10, 1))
    expect(t.take(1, 10, 29)).toBeUndefined()
    expect(t.take(1, 10, 30)).toEqual(rec(20, 2))
    expect(t.take(1, 10, 30)).toBeUndefined()
    // A reader that moved on by itself (read the file) makes the cache drop what it skipped.
    t.add(1, 35, rec(7, 4))
    expect(t.take(1, 35, 100)).toEqual(rec(7, 4))
    expect(t.size).toBe(0)
  })

  it('keeps at most its bytes, dropping the oldest: the reader reads those from the file, then takes from memory again', () => {
    const t = new TailCache(25)
    t.add(1, 0, rec(10, 1))
    t.add(1, 10, rec(10, 2))
    t.add(1, 20, rec(10, 3))
    expect(t.size).toBe(2)
    expect(t.take(1, 0, 100)).toBeUndefined()
    expect(t.take(1, 10, 100)).toEqual(rec(10, 2))
    expect(t.take(1, 20, 100)).toEqual(rec(10, 3))
  })

  it('follows the reader across segments, and starts over when cleared', () => {
    const t = new TailCache(1000)
    t.add(1, 0, rec(10, 1))
    t.add(5, 0, rec(10, 2))
    // The reader still in segment 1 does not lose segment 5's record.
    expect(t.take(1, 10, 10)).toBeUndefined()
    expect(t.take(5, 0, 10)).toEqual(rec(10, 2))
    t.add(5, 10, rec(10, 3))
    t.clear()
    expect(t.take(5, 10, 100)).toBeUndefined()
    t.add(5, 0, rec(4, 4))
    expect(t.take(5, 0, 4)).toEqual(rec(4, 4))
  })
})
