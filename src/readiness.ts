import type { Journal } from './spool/journal.js'

export interface ReadinessDeps {
  readonly journal: { pressure: Journal['pressure']; stats(): { readonly oldestUnwrittenMs: number | undefined } }
  /** When storage last accepted a write (the drainer's). */
  readonly lastWriteAt: () => number
  /** Whether storage answers (InfluxDB's /ping). */
  readonly pingStorage: () => Promise<boolean>
  /** READY_WRITE_STALL_MS */
  readonly writeStallMs: number
  readonly now?: () => number
}

/** One entry per condition, named for the operator who reads /readyz (docs/operations.md). A type, not an interface: the API takes it as a record. */
export type ReadinessChecks = {
  /** InfluxDB answers /ping. */
  readonly influxdb: boolean
  /** The journal is below JOURNAL_MAX_BYTES. */
  readonly journal: boolean
  /** The journal's disk has at least JOURNAL_MIN_FREE_BYTES free and has not refused a write for want of space. */
  readonly journalDiskSpace: boolean
  /** Journal writes succeed (a failing one is retried, acknowledgements held meanwhile). */
  readonly journalWrites: boolean
  /** Data waiting longer than READY_WRITE_STALL_MS has seen InfluxDB accept a write meanwhile. */
  readonly writing: boolean
}

export interface Readiness {
  readonly ready: boolean
  readonly checks: ReadinessChecks
}

/** The /readyz answer: ready when every check holds; a journal that reports itself full fails at least one. */
export function createReadiness(deps: ReadinessDeps): () => Promise<Readiness> {
  const now = deps.now ?? Date.now
  return async () => {
    const pressure = deps.journal.pressure()
    const oldest = deps.journal.stats().oldestUnwrittenMs
    const t = now()
    const stalled = oldest !== undefined && t - oldest > deps.writeStallMs && t - deps.lastWriteAt() > deps.writeStallMs
    const checks: ReadinessChecks = {
      influxdb: await deps.pingStorage(),
      journal: !pressure.overLimit,
      journalDiskSpace: !pressure.lowDiskSpace,
      journalWrites: !pressure.writeFailing,
      writing: !stalled,
    }
    return { ready: Object.values(checks).every(Boolean), checks }
  }
}
