import type { MachineState } from './records.js'

/** What is known now about one machine, maintained from the ingest stream. */
export interface MachineLive {
  /** When a message of this machine last arrived (receive time). */
  lastSeenMs: number | undefined
  state: MachineState | undefined
  reason: string
  alarms: readonly string[]
  /** When the machine entered its current state. */
  sinceMs: number | undefined
  /** Device time of the newest state report applied. */
  stateTsMs: number | undefined
}

/**
 * The continuously maintained state table behind "what is every machine
 * doing now": O(1) per message to keep, O(machines) to read, no query.
 * Keyed by `zone/factory/line/machine`. Seeded from storage at start-up.
 */
export class LiveStateTable {
  private readonly machines = new Map<string, MachineLive>()

  private entry(key: string): MachineLive {
    let e = this.machines.get(key)
    if (!e) {
      e = { lastSeenMs: undefined, state: undefined, reason: '', alarms: [], sinceMs: undefined, stateTsMs: undefined }
      this.machines.set(key, e)
    }
    return e
  }

  seen(key: string, nowMs: number): void {
    const e = this.entry(key)
    if (e.lastSeenMs === undefined || nowMs > e.lastSeenMs) e.lastSeenMs = nowMs
  }

  /**
   * Applies one state report (reports of a machine arrive in time order;
   * a late one does not move the current state) and returns when the machine
   * entered the reported state: a repeated report of the same state keeps the
   * earlier "since", which is what gateways that re-publish their state
   * periodically need.
   */
  applyState(key: string, change: { state: MachineState; reasonCode: string; alarmCodes: readonly string[]; tsMs: number }): number {
    const e = this.entry(key)
    if (e.stateTsMs !== undefined && change.tsMs < e.stateTsMs) return change.tsMs
    if (e.state !== change.state || e.sinceMs === undefined) e.sinceMs = change.tsMs
    e.state = change.state
    e.reason = change.reasonCode
    e.alarms = change.alarmCodes
    e.stateTsMs = change.tsMs
    return e.sinceMs
  }

  /** Fills in what storage knew before this process started (never overrides fresher data). */
  seed(key: string, known: Partial<MachineLive>): void {
    const e = this.entry(key)
    if (known.lastSeenMs !== undefined && (e.lastSeenMs === undefined || known.lastSeenMs > e.lastSeenMs)) e.lastSeenMs = known.lastSeenMs
    if (known.stateTsMs !== undefined && (e.stateTsMs === undefined || known.stateTsMs > e.stateTsMs)) {
      e.state = known.state
      e.reason = known.reason ?? ''
      e.alarms = known.alarms ?? []
      e.sinceMs = known.sinceMs ?? known.stateTsMs
      e.stateTsMs = known.stateTsMs
    }
  }

  get(key: string): Readonly<MachineLive> | undefined {
    return this.machines.get(key)
  }

  /** Every machine's entry, copied: what a second table (a decode worker's) is seeded with. */
  snapshot(): [string, MachineLive][] {
    return [...this.machines].map(([k, e]) => [k, { ...e }])
  }
}
