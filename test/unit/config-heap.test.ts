import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import { AppError } from '../../src/errors.js'

describe('V8_HEAP_GROWING_PERCENT', () => {
  it('defaults to 50, takes 0 (V8 decides) and refuses what is not a percentage, naming the variable', () => {
    expect(loadConfig({}).heapGrowingPercent).toBe(50)
    expect(loadConfig({ V8_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0)
    for (const bad of ['-1', '1001', 'lots']) {
      try {
        loadConfig({ V8_HEAP_GROWING_PERCENT: bad })
        expect.fail(`accepted ${bad}`)
      } catch (err) {
        expect(err).toBeInstanceOf(AppError)
        expect((err as AppError).details?.[0]).toMatch(/^V8_HEAP_GROWING_PERCENT/)
      }
    }
  })
})
