/**
 * At most one log line per key every `intervalMs`: a misbehaving gateway or a
 * listener failing on every message must not flood the logs (the counters
 * have every one). `sample(key)` answers how many were folded since the last
 * line that was let through, or undefined to stay quiet.
 */
export function createLogSampler(intervalMs = 10_000, now: () => number = Date.now): (key: string) => number | undefined {
  const last = new Map<string, { at: number; suppressed: number }>()
  return (key) => {
    const t = now()
    const seen = last.get(key)
    if (seen && t - seen.at < intervalMs) {
      seen.suppressed++
      return undefined
    }
    // Keys come from gateways: bounded.
    if (last.size > 10_000) last.clear()
    last.set(key, { at: t, suppressed: 0 })
    return seen?.suppressed ?? 0
  }
}
