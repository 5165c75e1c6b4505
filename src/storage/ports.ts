/**
 * Storage ports. The pipeline and the API depend on these, never on InfluxDB.
 * Points travel as InfluxDB line protocol with millisecond timestamps.
 */
import type { MachineKey } from '../domain/machine-key.js'
import type { MachineRef } from '../domain/genealogy.js'
import type { MovementRow } from '../domain/material-movements.js'
import type { MovementKind } from '../domain/records.js'

/**
 * Error of a LineWriter, for the drainer alone: `retriable` says whether
 * sending the batch again may succeed, else the batch is split to isolate
 * the points InfluxDB refuses. It never reaches an HTTP answer; reads fail
 * with AppErrors of the catalogue instead (docs/errors.md).
 */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'StorageError'
  }
}

/** Writes one batch; resolves once the database acknowledged it, rejects with StorageError. */
export interface LineWriter {
  /** Line protocol, UTF-8, lines separated by "\n", `lineCount` lines in all: one request. */
  write(body: Buffer, lineCount: number): Promise<void>
}

/** Where received messages go before anything else: the journal. */
export interface MessageLog {
  /**
   * Takes one message as received, as the frame of these parts (src/spool/message-frame.ts) written
   * where the log keeps it (no buffer per message), expected to carry about `estimatedPoints`
   * points; resolves once it is durable (or, without a journal, queued). Throws a RangeError for a
   * topic or gateway id too long for a frame.
   */
  appendMessage(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer, estimatedPoints: number): Promise<void>
  /** True when the log is at its limit: QoS 1 waits, QoS 0 is dropped. */
  readonly full: boolean
  /** Resolves when the log has room again. */
  waitForRoom(): Promise<void>
}

export interface Scope {
  readonly zone?: string | undefined
  readonly factory?: string | undefined
  readonly line?: string | undefined
  readonly machine?: string | undefined
}

export interface LatestValue {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  readonly signal: string
  readonly time: string
  readonly value: number | boolean | string | null
  readonly unit: string | null
  readonly quality: string | null
}

export const AGGREGATES = ['mean', 'min', 'max', 'last', 'first', 'sum', 'count', 'median', 'spread', 'stddev'] as const
export type Aggregate = (typeof AGGREGATES)[number]

export interface SeriesQuery extends Required<Scope> {
  readonly signal: string
  readonly startMs: number
  readonly endMs: number
  readonly intervalMs: number
  readonly aggregate: Aggregate
}

export interface SeriesPoint {
  readonly time: string
  readonly value: number | null
}

export interface TelemetryReader {
  latest(scope: Scope, signal: string | undefined, lookbackMs: number, limit: number): Promise<LatestValue[]>
  series(query: SeriesQuery): Promise<SeriesPoint[]>
}

export interface RecordRow {
  readonly time: string
  readonly tags: Record<string, string>
  readonly fields: Record<string, number | boolean | string>
}

export interface RecordsQuery {
  readonly kind: 'telemetry' | 'state' | 'production' | 'quality' | 'connectivity' | 'material'
  readonly scope: Scope
  readonly startMs: number
  readonly endMs: number
  readonly limit: number
  readonly order: 'asc' | 'desc'
}

/** Stored points as they are, for any kind: the inputs behind every figure. */
export interface RecordsReader {
  records(query: RecordsQuery): Promise<RecordRow[]>
}

export interface StorageHealth {
  /** Resolves true when the database answers. */
  ping(): Promise<boolean>
}

export interface StatePoint {
  readonly tsMs: number
  readonly state: string
  readonly reason: string
  readonly alarms: readonly string[]
  /** When the machine entered this state, as computed at ingest. */
  readonly sinceMs: number | undefined
}

export interface StateHistory {
  /** The last state report before the window (within the lookback), i.e. the state in force at its start. */
  readonly before: StatePoint | undefined
  /** State reports inside the window, in time order. */
  readonly points: readonly StatePoint[]
}

export interface CountBucket {
  readonly tsMs: number
  readonly good: number
  readonly reject: number
  readonly total: number
}

export interface InspectionRow {
  readonly time: string
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  readonly characteristic: string
  readonly value: number
  readonly lsl: number | null
  readonly usl: number | null
  readonly target: number | null
  readonly unit: string | null
  readonly pass: boolean | null
  readonly defectCode: string | null
  readonly lot: string | null
}

export interface InspectionFilter {
  readonly characteristic?: string | undefined
  readonly lot?: string | undefined
  readonly pass?: boolean | undefined
}

export interface LinkSummary {
  readonly zone: string
  readonly factory: string
  readonly gateway: string
  readonly access: string
  readonly reports: number
  /** Percentiles per metric: p5, p50, p95 (null when never reported). */
  readonly metrics: Readonly<Record<string, { p5: number | null; p50: number | null; p95: number | null }>>
}

/** Reads behind the plant engineer's API. Windows are [startMs, endMs). */
export interface ManufacturingReader {
  stateHistory(scope: Scope, startMs: number, endMs: number, lookbackMs: number): Promise<Map<MachineKey, StateHistory>>
  /** Production summed per bucket; per machine when `byMachine`, else one series for the whole scope (key ''). */
  countBuckets(scope: Scope, startMs: number, endMs: number, bucketMs: number, byMachine: boolean): Promise<Map<MachineKey, CountBucket[]>>
  /** Good and reject sums per machine inside each window (windows as given, one result per window, in order). */
  countsInWindows(scope: Scope, windows: readonly { startMs: number; endMs: number }[]): Promise<Map<MachineKey, { good: number; reject: number }[]>>
  inspections(scope: Scope, filter: InspectionFilter, startMs: number, endMs: number, limit: number): Promise<InspectionRow[]>
  connectivity(zones: readonly string[], factory: string | undefined, startMs: number, endMs: number): Promise<LinkSummary[]>
  /** Each machine's production points in [startMs, endMs), in time order; null where a point has no such field (for the OEE index's load). */
  productionPoints(startMs: number, endMs: number): Promise<Map<MachineKey, { tsMs: number; good: number | null; reject: number | null }[]>>
  /** The time of each machine's newest production point since `sinceMs` (for the OEE index's load). */
  newestProduction(sinceMs: number): Promise<Map<MachineKey, number>>
  /** For seeding the live table at start-up: the newest state report and last message time of every machine. */
  latestPerMachine(lookbackMs: number): Promise<Map<MachineKey, { lastSeenMs: number | undefined; state: StatePoint | undefined }>>
}

/** Material movements to read: in a scope and window, of some movements, for some lots or some work orders on machines. */
export interface MovementQuery {
  readonly scope: Scope
  readonly movements: readonly MovementKind[]
  /** Only these lots (undefined: any lot; empty: none). */
  readonly lots?: readonly string[] | undefined
  /** Only these work orders on these machines (undefined: any; empty: none). */
  readonly orders?: readonly (MachineRef & { readonly workOrder: string })[] | undefined
  /** Only this work order, on any machine in the scope. */
  readonly workOrder?: string | undefined
  readonly startMs: number
  readonly endMs: number
}

/** Reads behind the materials endpoints (docs/materials.md). Windows are [startMs, endMs). */
export interface MaterialsReader {
  /** Matching movements in time order; `truncated` when more than `limit` matched (the first `limit` are returned). */
  movements(query: MovementQuery, limit: number): Promise<{ rows: MovementRow[]; truncated: boolean }>
  /** True when reads whose window starts at `startMs` are answered from memory (the movement index): a caller's own cache of them only costs. */
  covers?(startMs: number): boolean
  /** Inspections whose `lot` is one of `lots`, newest first, at most `limit`. */
  inspectionsOfLots(scope: Scope, lots: readonly string[], startMs: number, endMs: number, limit: number): Promise<InspectionRow[]>
}
