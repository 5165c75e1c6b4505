import { describe, expect, it } from 'vitest'
import { hashSecret, MAX_CONCURRENT_CHECKS, MAX_WAITING_CHECKS, secretChecks, SecretChecksBusy, verifySecret } from '../../src/registry/secret-hash.js'

describe('secret checks share the thread pool with the journal', () => {
  it(`run at most ${MAX_CONCURRENT_CHECKS} at once, let ${MAX_WAITING_CHECKS} wait, refuse the rest as busy, and all end`, async () => {
    const stored = await hashSecret('right', { N: 1024, r: 8, p: 1 })
    const extra = 40
    const checks = Array.from({ length: MAX_CONCURRENT_CHECKS + MAX_WAITING_CHECKS + extra }, (_, i) => verifySecret(i === 0 ? 'right' : 'wrong', stored))
    expect(secretChecks()).toEqual({ running: MAX_CONCURRENT_CHECKS, waiting: MAX_WAITING_CHECKS })
    let most = 0
    const sampler = setInterval(() => (most = Math.max(most, secretChecks().running)), 1)
    const results = await Promise.allSettled(checks)
    clearInterval(sampler)
    expect(most).toBeLessThanOrEqual(MAX_CONCURRENT_CHECKS)
    const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof SecretChecksBusy)
    expect(busy).toHaveLength(extra)
    expect(results[0]).toEqual({ status: 'fulfilled', value: true })
    expect(results.filter((r) => r.status === 'fulfilled' && r.value === false)).toHaveLength(MAX_CONCURRENT_CHECKS + MAX_WAITING_CHECKS - 1)
    expect(secretChecks()).toEqual({ running: 0, waiting: 0 })
  })
})
