import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { buildApi } from './api/app.js'
import { startBroker, type BrokerHandle } from './broker/broker.js'
import type { Config } from './config/config.js'
import { createMetrics, type Metrics } from './metrics/metrics.js'
import { createPipeline, type Pipeline } from './pipeline/pipeline.js'
import { messageTypes } from './pipeline/proto-schema.js'
import { RejectionStore } from './pipeline/rejection-store.js'
import { createValidator } from './pipeline/validate.js'
import { RegistryStore } from './registry/registry-store.js'
import { BatchingWriter } from './storage/batching-writer.js'
import { createInfluxLineWriter } from './storage/influx/influx-line-writer.js'
import { InfluxQLClient } from './storage/influx/influxql-client.js'
import { createInfluxRecordsReader } from './storage/influx/records-reader.js'
import { createInfluxTelemetryReader } from './storage/influx/telemetry-reader.js'

export interface Service {
  readonly config: Config
  readonly registry: RegistryStore
  readonly pipeline: Pipeline
  readonly writer: BatchingWriter
  readonly rejections: RejectionStore
  readonly metrics: Metrics
  readonly broker: BrokerHandle
  readonly api: FastifyInstance
  readonly httpPort: number
  /** Stops accepting, flushes what is buffered (bounded by `timeoutMs`), and closes everything. */
  close(timeoutMs?: number): Promise<void>
}

/**
 * The composition root: config -> storage -> pipeline -> broker -> API.
 * Only this file (and main.ts) names concrete adapters.
 */
export async function startService(config: Config, log: Logger): Promise<Service> {
  await mkdir(config.dataDir, { recursive: true })
  const metrics = createMetrics()
  const registry = await RegistryStore.open(config.registryFile, log.child({ component: 'registry' }))
  registry.watch()

  const influxql = new InfluxQLClient(config.influx)
  await influxql.ensureDatabase()
  const lineWriter = createInfluxLineWriter(config.influx, config.write.batchSize)
  const writer = new BatchingWriter(lineWriter, config.write, metrics, log.child({ component: 'writer' }))
  const rejections = await RejectionStore.open(join(config.dataDir, 'rejections.jsonl'), config.rejections, log.child({ component: 'rejections' }))

  const pipeline = createPipeline({
    registry,
    types: messageTypes(),
    validate: createValidator(config.ingest),
    sink: writer,
    rejections,
    metrics,
    limits: { ...config.ingest, maxPayloadBytes: config.mqtt.maxPayloadBytes },
    log: log.child({ component: 'pipeline' }),
  })

  const broker = await startBroker(config.mqtt, { registry, pipeline, metrics, log: log.child({ component: 'broker' }) })
  let api: FastifyInstance
  try {
    api = await buildApi({
      config: config.api,
      registry,
      telemetry: createInfluxTelemetryReader(influxql),
      records: createInfluxRecordsReader(influxql),
      storageHealth: influxql,
      rejections,
      metrics,
      log: log.child({ component: 'api' }),
    })
    await api.listen({ host: config.http.host, port: config.http.port })
  } catch (err) {
    await broker.close()
    throw err
  }
  const httpPort = (api.server.address() as AddressInfo).port
  log.info({ port: httpPort }, 'API listening')

  let closing: Promise<void> | undefined
  return {
    config,
    registry,
    pipeline,
    writer,
    rejections,
    metrics,
    broker,
    api,
    httpPort,
    close(timeoutMs = 10_000) {
      closing ??= (async () => {
        registry.close()
        await broker.close()
        const flushed = await Promise.race([writer.flush().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref())])
        if (!flushed) log.error({ buffered: writer.bufferedLines }, 'shutdown: points still buffered after the flush timeout')
        writer.close()
        await lineWriter.close()
        await rejections.flush()
        await api.close()
      })()
      return closing
    },
  }
}
