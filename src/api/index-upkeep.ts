/**
 * The timers of an in-memory index in front of InfluxDB (the movement index,
 * the OEE index): its periodic prune, and the next try of a load that failed.
 * `close()` stops both, and any load still running sees `closed` and stops.
 */
export function indexUpkeep(o: { readonly prune: () => void; readonly pruneEveryMs: number; readonly retryMs?: number | undefined }) {
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const timer = setInterval(o.prune, o.pruneEveryMs)
  timer.unref()
  return {
    get closed() {
      return closed
    },
    /** Runs `load` again after the retry delay (a minute by default), unless closed by then. */
    retryLater(load: () => Promise<void>): void {
      if (!closed) retry = setTimeout(() => void load(), o.retryMs ?? 60_000).unref()
    },
    close(): void {
      closed = true
      clearInterval(timer)
      clearTimeout(retry)
    },
  }
}
