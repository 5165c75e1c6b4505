import { describe, expect, it } from 'vitest'
import { createFailureThrottle } from '../../src/registry/failure-throttle.js'
import { loadConfig } from '../../src/config/config.js'
import type { AppError } from '../../src/errors.js'

describe('failure throttle', () => {
  it('throttles an address at its limit until its window ends, and says for how long', () => {
    let t = 1_000_000
    const throttle = createFailureThrottle({ limit: 3, windowMs: 60_000, maxTracked: 100, now: () => t })
    for (let i = 0; i < 2; i++) throttle.fail('10.0.0.1')
    expect(throttle.retryAfterS('10.0.0.1')).toBe(0)
    throttle.fail('10.0.0.1')
    expect(throttle.retryAfterS('10.0.0.1')).toBe(60)
    expect(throttle.retryAfterS('10.0.0.2')).toBe(0)
    t += 59_001
    expect(throttle.retryAfterS('10.0.0.1')).toBe(1)
    t += 1_000
    expect(throttle.retryAfterS('10.0.0.1')).toBe(0)
    // A new window starts from the next failure.
    throttle.fail('10.0.0.1')
    expect(throttle.retryAfterS('10.0.0.1')).toBe(0)
  })

  it('when full, forgets expired windows first and then the oldest, never every address at once', () => {
    let t = 0
    const throttle = createFailureThrottle({ limit: 1, windowMs: 60_000, maxTracked: 3, now: () => t })
    throttle.fail('a')
    t += 30_000
    throttle.fail('b')
    throttle.fail('c')
    throttle.fail('d')
    expect(['a', 'b', 'c', 'd'].map((x) => throttle.retryAfterS(x) > 0)).toEqual([false, true, true, true])
    t += 40_000 // a's window would have ended anyway; b, c and d are still live
    throttle.fail('e')
    expect(['b', 'c', 'd', 'e'].map((x) => throttle.retryAfterS(x) > 0)).toEqual([false, true, true, true])
  })
})

describe('API_TRUST_PROXY', () => {
  const trust = (value: string) => loadConfig({ API_TRUST_PROXY: value }).api.trustProxy
  const problem = (value: string) => {
    try {
      loadConfig({ API_TRUST_PROXY: value })
    } catch (err) {
      return (err as AppError).details?.join('\n') ?? ''
    }
    return ''
  }

  it('accepts false, true, and addresses, CIDR ranges and proxy-addr names', () => {
    expect(loadConfig({}).api.trustProxy).toBe(false)
    expect(trust('false')).toBe(false)
    expect(trust('true')).toBe(true)
    expect(trust('10.0.0.5, 10.1.0.0/16,::1,fd00::/8,loopback')).toEqual(['10.0.0.5', '10.1.0.0/16', '::1', 'fd00::/8', 'loopback'])
  })

  it('refuses a hop count and anything that is not an address, naming the variable', () => {
    expect(problem('1')).toMatch(/^API_TRUST_PROXY: .*hop count/)
    expect(problem('10.0.0.0/33,proxy.example')).toMatch(/^API_TRUST_PROXY: .*10\.0\.0\.0\/33, proxy\.example/)
  })
})
