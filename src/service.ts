import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApi } from './api/app.js'
import type { BrokerHandle } from './broker/broker.js'
import type { Config } from './config/config.js'
import { createMetrics, registerJournalGauges, type Metrics } from './metrics/metrics.js'
import { createIngestor, type Ingestor } from './pipeline/ingestor.js'
import { seededLiveTable } from './pipeline/live-seed.js'
import { DecodePool, decodeWorkerCount } from './pipeline/decode-pool.js'
import { createProcessor } from './pipeline/processor.js'
import { materialWarningCounter } from './pipeline/material-warnings.js'
import { createPipeline, type Pipeline } from './pipeline/pipeline.js'
import { messageTypes } from './pipeline/proto-schema.js'
import { createReadiness } from './readiness.js'
import { BirthStore } from './sparkplug/birth-store.js'
import { createSparkplugHost } from './sparkplug/host.js'
import { createHostLink, type HostLink } from './sparkplug/host-link.js'
import { RejectionStore } from './pipeline/rejection-store.js'
import { RejectionKeeper } from './pipeline/rejection-keeper.js'
import { createValidator } from './pipeline/validate.js'
import { RegistryStore } from './registry/registry-store.js'
import { brokerAccessOf } from './source/broker-access.js'
import { startSources, type Sources } from './source/sources.js'
import { Drainer } from './spool/drainer.js'
import { lockDataDir, type DataDirLock } from './spool/data-dir-lock.js'
import { listenError } from './config/listen-error.js'
import { isAppError } from './errors.js'
import type { Journal } from './spool/journal.js'
import { MemoryJournal } from './spool/memory-journal.js'
import { SegmentJournal } from './spool/segment-journal.js'
import { createInfluxLineWriter } from './storage/influx/influx-line-writer.js'
import { InfluxQLClient } from './storage/influx/influxql-client.js'
import { createInfluxManufacturingReader } from './storage/influx/manufacturing-reader.js'
import { createMaterialIndex } from './api/material-index.js'
import { createOeeIndex } from './api/oee-index.js'
import { createInfluxMaterialsReader } from './storage/influx/materials-reader.js'
import { createInfluxRecordsReader } from './storage/influx/records-reader.js'
import { createInfluxTelemetryReader } from './storage/influx/telemetry-reader.js'

export interface Service {
  readonly config: Config
  readonly registry: RegistryStore
  readonly pipeline: Pipeline
  readonly ingestor: Ingestor
  readonly journal: Journal
  readonly drainer: Drainer
  readonly rejections: RejectionStore
  readonly metrics: Metrics
  /** The embedded broker; reading it in another SERVICE_MODE throws (docs/scaling-out.md). */
  readonly broker: BrokerHandle
  /** Where messages come from: the embedded broker, or an external one (worker, API node). */
  readonly sources: Sources
  readonly api: FastifyInstance
  readonly httpPort: number
  /**
   * Graceful stop: stops accepting (listeners and clients closed), lets
   * in-flight appends finish, drains the journal for up to
   * `SHUTDOWN_DRAIN_TIMEOUT_MS`, and closes. What is left is replayed on the next start.
   */
  close(): Promise<void>
}

/** CREATE DATABASE now; if InfluxDB is unreachable, again every 2 s in the background until it answers. */
function ensureDatabaseWhenReachable(influxql: InfluxQLClient, log: Logger): { first: Promise<void>; stop(): void } {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let failed = false
  const attempt = async (): Promise<void> => {
    try {
      await influxql.ensureDatabase()
      if (failed) log.info('InfluxDB reachable: database ensured')
    } catch (err) {
      if (!isAppError(err) || err.code !== 'IIOT_ERR_STORAGE_UNAVAILABLE') throw err
      if (!failed) log.warn({ err: err.message }, 'InfluxDB unreachable at start-up: starting anyway; the journal holds what arrives until it answers')
      failed = true
      if (!stopped) timer = setTimeout(() => void attempt().catch((e: unknown) => log.error({ err: e }, 'cannot create the database')), 2_000)
    }
  }
  return {
    first: attempt(),
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}

/** How long a stop may take before the process gives up on it: the drain, one InfluxDB request, and 5 s for the rest. */
export function stopLimitMs(config: Config): number {
  return config.shutdownDrainTimeoutMs + config.influx.timeoutMs + 5_000
}

/**
 * The composition root: config -> storage -> journal -> pipeline -> broker -> API.
 * Only this file (and main.ts) names concrete adapters.
 */
export async function startService(config: Config, log: Logger): Promise<Service> {
  await mkdir(config.dataDir, { recursive: true })
  const dirLock = await lockDataDir(config.dataDir, { onWait: (holder) => log.warn({ holder }, 'DATA_DIR is locked by another process, or by one that stopped without releasing it; waiting for the lock to go stale') })
  try {
    return await startWithDataDir(config, log, dirLock)
  } catch (err) {
    await dirLock.release()
    throw err
  }
}

async function startWithDataDir(config: Config, log: Logger, dirLock: DataDirLock): Promise<Service> {
  const metrics = createMetrics()
  const registry = await RegistryStore.open(config.registryFile, log.child({ component: 'registry' }), (outcome) => metrics.registryReloads.inc({ outcome }))

  const influxql = new InfluxQLClient(config.influx)
  // InfluxDB down at start-up is an outage like any other: the broker starts and the journal holds
  // what gateways send, and the database is created once InfluxDB answers (writes to it wait with
  // their usual retries meanwhile). Anything else (credentials, a refused statement) stops start-up.
  const databaseReady = ensureDatabaseWhenReachable(influxql, log)
  await databaseReady.first
  const lineWriter = createInfluxLineWriter(config.influx, config.write.batchSize)
  const rejections = await RejectionStore.open(join(config.dataDir, 'rejections.jsonl'), config.rejections, log.child({ component: 'rejections' }))
  const rejectionKeeper = new RejectionKeeper(rejections, { metrics, log: log.child({ component: 'rejections' }) })

  const journal: Journal = config.journal.enabled
    ? await SegmentJournal.open({ dir: join(config.dataDir, 'journal'), maxBytes: config.journal.maxBytes, segmentBytes: config.journal.segmentBytes, minFreeBytes: config.journal.minFreeBytes, log: log.child({ component: 'journal' }) })
    : new MemoryJournal(config.journal.maxBytes)
  if (!config.journal.enabled) log.warn('JOURNAL_ENABLED=false: acknowledged messages live only in memory until written; a crash loses them')
  registerJournalGauges(metrics, () => ({ ...journal.stats(), full: journal.full, diskFreeBytes: journal.pressure().diskFreeBytes }))

  // The live machine table: seeded from what InfluxDB knows, then kept by the pipeline.
  const manufacturing = createInfluxManufacturingReader(influxql)
  const live = await seededLiveTable(manufacturing, config.api.liveSeedLookbackMs, log)

  const pipeline = createPipeline({
    live,
    registry,
    types: messageTypes(),
    validate: createValidator(config.ingest),
    metrics,
    limits: { ...config.ingest, maxPayloadBytes: config.mqtt.maxPayloadBytes },
    log: log.child({ component: 'pipeline' }),
  })
  // Log first: the acknowledgement waits only for the journal; decoding runs on the journal's read side.
  const workers = decodeWorkerCount(config.decodeWorkers)
  const pool = workers > 0 ? new DecodePool({ size: workers, init: { ingest: config.ingest, maxPayloadBytes: config.mqtt.maxPayloadBytes, fastPath: true, logLevel: log.level }, liveSeed: () => live.snapshot(), registry, log: log.child({ component: 'decode' }) }) : undefined
  // The Sparkplug B primary host (docs/sparkplug.md): births kept beside the journal; its commands go out through the broker once it runs.
  let hostLink: HostLink | undefined
  const sp = config.sparkplug
  const sparkplug = createSparkplugHost({ registry, births: BirthStore.open(join(config.dataDir, 'sparkplug-births.json')), live, keeper: rejectionKeeper, validate: createValidator(config.ingest), limits: { ...config.ingest, maxUncompressedBytes: config.mqtt.maxPacketBytes }, sendRebirth: (g, e) => hostLink?.sendRebirth(g, e), metrics, log: log.child({ component: 'sparkplug' }), reorderWindowMs: sp.reorderWindowMs, reorderMaxMessages: sp.reorderMaxMessages, rebirthMinIntervalMs: sp.rebirthMinIntervalMs })
  const processor = createProcessor({ pipeline, pool, live, sparkplug, rejections, replayBelowSeq: journal.replayBelowSeq, keeper: rejectionKeeper, metrics, log: log.child({ component: 'ingest' }) })
  const ingestor = createIngestor({ journal, processor, metrics, log: log.child({ component: 'ingest' }) })
  ingestor.onAccepted(materialWarningCounter((warning, n) => metrics.materialWarnings.inc({ warning }, n)), 'material-warnings')
  // Only a process that decodes every message can hold every movement (docs/materials.md, "The movement index").
  const mi = config.api.materialIndex
  const materialIndex = config.scaleOut.mode === 'embedded' && mi.maxMovements > 0 ? createMaterialIndex({ db: createInfluxMaterialsReader(influxql), ...mi, registry: metrics.registry, log: log.child({ component: 'materials' }) }) : undefined
  if (materialIndex) ingestor.onAccepted(materialIndex.listener, 'material-index')
  // The same for machine states and hourly counts (docs/api.md, "The OEE index").
  const oeeIndex = config.scaleOut.mode === 'embedded' && config.api.oeeIndexHorizonMs > 0 ? createOeeIndex({ db: manufacturing, horizonMs: config.api.oeeIndexHorizonMs, lookbackMs: config.api.stateLookbackMs, registry: metrics.registry, log: log.child({ component: 'oee' }) }) : undefined
  if (oeeIndex) ingestor.onAccepted(oeeIndex.listener, 'oee-index')
  const drainer = new Drainer(journal, lineWriter, { batchSize: config.write.batchSize, lingerMs: config.write.lingerMs, maxInFlight: config.write.maxInFlight, retryBaseMs: 250, retryMaxMs: config.write.retryMaxMs }, {
    metrics,
    log: log.child({ component: 'drainer' }),
    onRefusedLine: (line, message) => rejectionKeeper.keepRefused(line, message),
    process: (batch) => processor.process(batch),
    reachable: () => influxql.ping(1_000),
  })
  drainer.start()

  const readiness = createReadiness({ journal, lastWriteAt: () => drainer.lastWriteAt, pingStorage: () => influxql.ping(), writeStallMs: config.readyWriteStallMs })

  let sources: Sources | undefined
  let api: FastifyInstance | undefined
  try {
    // SERVICE_MODE (docs/scaling-out.md): the embedded broker, or a worker's shared subscription and an API node's feed.
    sources = await startSources(config, { registry, ingestor, pipeline, keep: (r) => rejectionKeeper.keep(r), metrics, log })
    api = await buildApi({
      config: config.api,
      registry,
      telemetry: createInfluxTelemetryReader(influxql),
      records: createInfluxRecordsReader(influxql),
      manufacturing: oeeIndex?.reader ?? manufacturing,
      materials: materialIndex?.reader ?? createInfluxMaterialsReader(influxql),
      live,
      ingestor: sources.accepted,
      readiness,
      journalStats: () => ({ ...journal.stats(), full: journal.full }),
      rejections,
      sparkplug,
      serviceMode: config.scaleOut.mode,
      brokerAccess: brokerAccessOf(config),
      metrics,
      log: log.child({ component: 'api' }),
    })
    await api.listen({ host: config.http.host, port: config.http.port }).catch((err: unknown) => {
      throw listenError(err, { host: 'HTTP_HOST', port: 'HTTP_PORT' }, config.http.host, config.http.port)
    })
    if (sources.publisher) hostLink = createHostLink(sources.publisher, sp.hostId, log.child({ component: 'sparkplug' }))
    await hostLink?.online()
  } catch (err) {
    databaseReady.stop()
    await sources?.close()
    await drainer.stop(0)
    await processor.close()
    await journal.close()
    await rejectionKeeper.close()
    await rejections.close()
    throw err
  }
  registry.watch()
  void materialIndex?.load()
  void oeeIndex?.load()
  const httpPort = (api.server.address() as AddressInfo).port
  log.info({ port: httpPort, journal: config.journal.enabled ? 'disk' : 'memory' }, 'API listening')

  const src = sources
  const a = api
  let closing: Promise<void> | undefined
  return {
    config,
    registry,
    pipeline,
    ingestor,
    journal,
    drainer,
    rejections,
    metrics,
    get broker(): BrokerHandle {
      if (!src.broker) throw new Error(`SERVICE_MODE=${config.scaleOut.mode} runs no embedded broker`)
      return src.broker
    },
    sources: src,
    api: a,
    httpPort,
    close() {
      closing ??= (async () => {
        databaseReady.stop()
        registry.close()
        materialIndex?.close()
        oeeIndex?.close()
        // Workers share one host id: one stopping must not declare the others offline (docs/scaling-out.md).
        if (config.scaleOut.embeddedBroker) await hostLink?.offline().catch((err: unknown) => log.error({ err }, 'could not publish the Sparkplug STATE offline message'))
        await src.close()
        await drainer.stop(config.shutdownDrainTimeoutMs)
        sparkplug.close()
        await processor.close()
        const left = journal.stats().unwrittenRecords
        if (left > 0) log.warn({ records: left }, 'shutdown: journal not fully drained; the rest is replayed on the next start')
        await journal.close()
        await lineWriter.close()
        await rejectionKeeper.close()
        await rejections.close()
        await a.close()
        await dirLock.release()
      })()
      return closing
    },
  }
}
