import type { Aedes, PublishPacket } from 'aedes'
import type { Logger } from 'pino'
import { startBroker, type BrokerHandle } from '../broker/broker.js'
import type { Config } from '../config/config.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { Pipeline } from '../pipeline/pipeline.js'
import type { RejectionInput } from '../pipeline/rejection-store.js'
import type { RegistryStore } from '../registry/registry-store.js'
import { startBrokerSource, type BrokerSource } from './external-broker.js'
import { startLiveFeed, type LiveFeed } from './live-feed.js'

/** Where messages come from, by SERVICE_MODE (docs/scaling-out.md): one ingestor, two sources. */
export interface Sources {
  /** The embedded broker (SERVICE_MODE=embedded), else undefined. */
  readonly broker: BrokerHandle | undefined
  /** The worker's connections to the external broker (SERVICE_MODE=worker, worker+api). */
  readonly worker: BrokerSource | undefined
  /** What the API's live streams follow: this process's accepted messages, or every worker's (SERVICE_MODE=api, worker+api). */
  readonly accepted: Pick<Ingestor, 'onAccepted'>
  /** Where the Sparkplug host publishes STATE and commands; undefined on an API-only node. */
  readonly publisher: Pick<Aedes, 'publish'> | undefined
  /** Stops taking messages (listeners or subscriptions); the journal and drainer are the caller's. */
  close(): Promise<void>
}

export interface SourcesDeps {
  readonly registry: RegistryStore
  readonly ingestor: Ingestor
  readonly pipeline: Pipeline
  keep(input: RejectionInput): Promise<void>
  readonly metrics: Metrics
  readonly log: Logger
}

export async function startSources(config: Config, deps: SourcesDeps): Promise<Sources> {
  const { registry, ingestor, metrics, log } = deps
  const so = config.scaleOut
  if (so.embeddedBroker) {
    const broker = await startBroker(config.mqtt, { registry, ingestor, metrics, log: log.child({ component: 'broker' }) })
    return { broker, worker: undefined, accepted: ingestor, publisher: broker.aedes, close: () => broker.close() }
  }
  let worker: BrokerSource | undefined
  let feed: LiveFeed | undefined
  try {
    if (so.worker) worker = await startBrokerSource({ config: so.broker, registry, ingestor, keep: deps.keep, metrics, log: log.child({ component: 'worker' }) })
    if (so.apiFeed) feed = await startLiveFeed({ config: so.broker, pipeline: deps.pipeline, metrics, log: log.child({ component: 'live-feed' }) })
  } catch (err) {
    await worker?.close()
    throw err
  }
  const first = worker?.clients[0]
  const publisher: Pick<Aedes, 'publish'> | undefined = first && {
    publish(packet: PublishPacket, callback: (error?: Error) => void) {
      first.publish(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload), { qos: packet.qos, retain: packet.retain }, (err) => callback(err ?? undefined))
    },
  }
  return {
    broker: undefined,
    worker,
    accepted: feed ?? ingestor,
    publisher,
    async close() {
      await feed?.close()
      await worker?.close()
    },
  }
}
