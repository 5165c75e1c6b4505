/**
 * Turns monotonic production counters into deltas at ingest (docs/storage.md:
 * NON_NEGATIVE_DIFFERENCE undercounts after a reset; a delta written at
 * ingest is exact). A counter lower than the previous value is a reset: the
 * new value is the count since the reset. The first report of a machine after
 * a restart of this service has no previous value: it gets no delta (its raw
 * counters are stored, the delta fields left out), which is why gateways should
 * prefer delta mode. A report at the timestamp of the previous one is the same
 * point decoded again (a QoS 2 resend journaled twice across a restart,
 * docs/delivery.md): it gets no delta either, so the delta stored with it stays.
 */
export class CounterTracker {
  private readonly last = new Map<string, { good: number; reject: number; tsMs: number | undefined }>()

  /** The counts since the previous report of `key`; undefined for its first (nothing to subtract) or a repeat of it. */
  delta(key: string, good: number, reject: number, tsMs?: number): { good: number; reject: number } | undefined {
    const prev = this.last.get(key)
    this.last.set(key, { good, reject, tsMs })
    if (!prev || (tsMs !== undefined && prev.tsMs === tsMs)) return undefined
    return { good: good >= prev.good ? good - prev.good : good, reject: reject >= prev.reject ? reject - prev.reject : reject }
  }
}
