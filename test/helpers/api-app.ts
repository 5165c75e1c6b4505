import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import type { ApiDeps } from '../../src/api/api-deps.js'
import { buildApi } from '../../src/api/app.js'
import { loadConfig } from '../../src/config/config.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import type { RejectionStore } from '../../src/pipeline/rejection-store.js'
import { Registry } from '../../src/registry/registry.js'
import type { ManufacturingReader, MaterialsReader, RecordsReader, TelemetryReader } from '../../src/storage/ports.js'
import { testRegistry } from './fixtures.js'

/** Readers that find nothing; a test overrides the calls it cares about. */
const emptyManufacturing: ManufacturingReader = {
  stateHistory: async () => new Map(),
  countBuckets: async () => new Map(),
  countsInWindows: async () => new Map(),
  inspections: async () => [],
  connectivity: async () => [],
  productionPoints: async () => new Map(),
  newestProduction: async () => new Map(),
  latestPerMachine: async () => new Map(),
}

/**
 * The HTTP API alone, built but not listening (drive it with `inject()`),
 * over the test registry and in-memory readers: the tier under the real one
 * (no influxd, no broker). Close it with `app.close()`.
 */
export async function buildTestApi(
  opts: {
    env?: Record<string, string>
    telemetry?: Partial<TelemetryReader>
    records?: Partial<RecordsReader>
    manufacturing?: Partial<ManufacturingReader>
    materials?: Partial<MaterialsReader>
    /** Extra routes on the root instance (its error handler applies), added before `ready()`. */
    routes?: (app: FastifyInstance) => void
    /** Dependencies to add or replace. */
    deps?: Partial<ApiDeps>
  } = {},
): Promise<FastifyInstance> {
  const registry = Registry.fromJson(await testRegistry())
  const deps: ApiDeps = {
    config: loadConfig(opts.env ?? {}).api,
    registry: { current: () => registry },
    telemetry: { latest: async () => [], series: async () => [], ...opts.telemetry },
    records: { records: async () => [], ...opts.records },
    manufacturing: { ...emptyManufacturing, ...opts.manufacturing },
    materials: { movements: async () => ({ rows: [], truncated: false }), inspectionsOfLots: async () => [], ...opts.materials },
    live: new LiveStateTable(),
    ingestor: { onAccepted: () => () => undefined },
    readiness: async () => ({ ready: true, checks: {} }),
    journalStats: () => ({ unwrittenRecords: 0, unwrittenBytes: 0, oldestUnwrittenMs: undefined, full: false }),
    // No route under test lists rejections.
    rejections: undefined as unknown as RejectionStore,
    metrics: createMetrics(),
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...opts.deps,
  }
  const app = await buildApi(deps)
  opts.routes?.(app)
  await app.ready()
  return app
}
