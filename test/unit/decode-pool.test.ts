import { describe, expect, it } from 'vitest'
import { decodeWorkerCount } from '../../src/pipeline/decode-pool.js'

describe('DECODE_WORKERS', () => {
  it('auto: none on two cores or fewer, then the cores minus two, at most 8; a number as it is', () => {
    expect([1, 2, 3, 4, 8, 10, 64].map((cores) => decodeWorkerCount('auto', cores))).toEqual([0, 0, 1, 2, 6, 8, 8])
    expect(decodeWorkerCount(3, 2)).toBe(3)
    expect(decodeWorkerCount(0, 64)).toBe(0)
  })
})
