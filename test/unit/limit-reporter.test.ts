import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Logger } from 'pino'
import { createThrottledWarn } from '../../src/broker/limit-reporter.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('createThrottledWarn', () => {
  it('writes one line per key per interval, and the next says how many it left out', () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const lines: [Record<string, unknown>, string][] = []
    const log = { warn: (obj: Record<string, unknown>, msg: string) => void lines.push([obj, msg]) } as unknown as Logger
    const warn = createThrottledWarn(log, 1000)
    warn('a', { n: 1 }, 'first')
    warn('a', { n: 2 }, 'folded')
    warn('a', { n: 3 }, 'folded')
    warn('b', { n: 4 }, 'another key')
    vi.advanceTimersByTime(1000)
    warn('a', { n: 5 }, 'after the interval')
    vi.advanceTimersByTime(1000)
    warn('a', { n: 6 }, 'nothing folded')
    expect(lines).toEqual([
      [{ n: 1 }, 'first'],
      [{ n: 4 }, 'another key'],
      [{ n: 5, suppressed: 2 }, 'after the interval'],
      [{ n: 6 }, 'nothing folded'],
    ])
  })
})
