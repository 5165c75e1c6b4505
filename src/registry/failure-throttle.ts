/**
 * Failed secret checks (API keys, gateway CONNECTs) counted per client address in fixed windows: once an
 * address has `limit` failures within `windowMs` of its first, it is
 * throttled until that window ends (docs/security.md).
 */
export interface FailureThrottle {
  /** Whole seconds until the address may be checked again; 0 when it is not throttled. */
  retryAfterS(address: string): number
  /** Counts one failed check. */
  fail(address: string): void
}

export function createFailureThrottle(options: { limit: number; windowMs: number; maxTracked: number; now?: () => number }): FailureThrottle {
  const { limit, windowMs, maxTracked } = options
  const now = options.now ?? Date.now
  const windows = new Map<string, { count: number; since: number }>()
  const live = (address: string, t: number) => {
    const w = windows.get(address)
    return w && t - w.since < windowMs ? w : undefined
  }
  return {
    retryAfterS(address) {
      const t = now()
      const w = live(address, t)
      return w && w.count >= limit ? Math.max(1, Math.ceil((w.since + windowMs - t) / 1000)) : 0
    },
    fail(address) {
      const t = now()
      const w = live(address, t)
      if (w) {
        w.count++
        return
      }
      windows.delete(address)
      if (windows.size >= maxTracked) {
        for (const [a, old] of windows) if (t - old.since >= windowMs) windows.delete(a)
        // Still full of live windows: forget the oldest (insertion order), never all at once.
        if (windows.size >= maxTracked) windows.delete(windows.keys().next().value!)
      }
      windows.set(address, { count: 1, since: t })
    },
  }
}
