/**
 * Storage ports. The pipeline and the API depend on these, never on InfluxDB.
 * Points travel as InfluxDB line protocol with millisecond timestamps.
 */

/** Error from a storage adapter; `retriable` says whether sending again may succeed. */
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
  write(lines: readonly string[]): Promise<void>
}

/** Where accepted points go before storage: the journal. */
export interface PointSink {
  /** Takes one message's points; resolves once they are durable (or, without a journal, queued). */
  append(lines: readonly string[]): Promise<void>
  /** True when the sink is at its limit: QoS 1 waits, QoS 0 is dropped. */
  readonly full: boolean
  /** Resolves when the sink has room again. */
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
  readonly kind: 'telemetry' | 'state' | 'production' | 'quality' | 'connectivity'
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
