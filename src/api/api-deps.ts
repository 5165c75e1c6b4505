import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import type { Metrics } from '../metrics/metrics.js'
import type { RejectionStore } from '../pipeline/rejection-store.js'
import type { RegistrySource } from '../registry/registry-store.js'
import type { LiveStateTable } from '../domain/live-state.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { ManufacturingReader, MaterialsReader, RecordsReader, TelemetryReader } from '../storage/ports.js'
import type { SparkplugHost } from '../sparkplug/host.js'
import type { BrokerAccessConfig } from '../source/broker-access.js'

/** What the API needs from the rest of the service; handed to every route plugin. */
export interface ApiDeps {
  readonly config: Config['api']
  readonly registry: RegistrySource
  readonly telemetry: TelemetryReader
  readonly records: RecordsReader
  readonly manufacturing: ManufacturingReader
  readonly materials: MaterialsReader
  /** The live machine table (current state, last seen). */
  readonly live: LiveStateTable
  /** For live streams: decoded messages as they are accepted. */
  readonly ingestor: Pick<Ingestor, 'onAccepted'>
  /** Readiness checks: InfluxDB reachable, journal below its limit, writes progressing. */
  readonly readiness: () => Promise<{ readonly ready: boolean; readonly checks: Readonly<Record<string, boolean>> }>
  /** Journal figures for the stats endpoint. */
  readonly journalStats: () => { readonly unwrittenRecords: number; readonly unwrittenBytes: number; readonly oldestUnwrittenMs: number | undefined; readonly full: boolean }
  readonly rejections: RejectionStore
  /** The Sparkplug B host, for commands to edge nodes (docs/sparkplug.md); absent: those routes answer 404. */
  readonly sparkplug?: Pick<SparkplugHost, 'requestRebirth'>
  /** SERVICE_MODE (docs/scaling-out.md): outside `embedded`, counters are this process's only. Default embedded. */
  readonly serviceMode?: 'embedded' | 'worker' | 'api' | 'worker+api'
  /** The external broker's HTTP auth endpoint (SERVICE_MODE worker/api, BROKER_AUTH_SECRET set); undefined: no such routes. */
  readonly brokerAccess?: BrokerAccessConfig
  readonly metrics: Metrics
  readonly log: Logger
}
