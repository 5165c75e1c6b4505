import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import type { Metrics } from '../metrics/metrics.js'
import type { RejectionStore } from '../pipeline/rejection-store.js'
import type { RegistrySource } from '../registry/registry-store.js'
import type { RecordsReader, StorageHealth, TelemetryReader } from '../storage/ports.js'

/** What the API needs from the rest of the service; handed to every route plugin. */
export interface ApiDeps {
  readonly config: Config['api']
  readonly registry: RegistrySource
  readonly telemetry: TelemetryReader
  readonly records: RecordsReader
  readonly storageHealth: StorageHealth
  readonly rejections: RejectionStore
  readonly metrics: Metrics
  readonly log: Logger
}
