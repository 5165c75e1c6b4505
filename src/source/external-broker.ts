import { readFileSync } from 'node:fs'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { ScaleOutConfig } from '../config/scale-out-config.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { RejectionInput } from '../pipeline/rejection-store.js'
import type { RegistrySource } from '../registry/registry-store.js'
import { identityOfTopic } from './topic-identity.js'

export interface BrokerSourceDeps {
  readonly config: ScaleOutConfig['broker']
  readonly registry: RegistrySource
  readonly ingestor: Pick<Ingestor, 'handle'>
  /** Keeps a refused message as a rejection; resolves once it is durable. */
  keep(input: RejectionInput): Promise<void>
  readonly metrics: Metrics
  readonly log: Logger
  /** Topic filters under the share group (default: our tree and Sparkplug B). */
  readonly filters?: readonly string[]
}

export interface BrokerSource {
  /** The connections, for the Sparkplug host's own publishes (STATE, NCMD). */
  readonly clients: readonly MqttClient[]
  /** Messages handed to the ingestor by this worker since it started. */
  readonly received: () => number
  close(): Promise<void>
}

/** An announcement of a journaled message for API nodes: `{announce topic}/{gateway}/{original topic}`, the raw payload. */
export function announceTopicOf(announceTopic: string, gatewayId: string, topic: string): string {
  return `${announceTopic}/${gatewayId}/${topic}`
}

/**
 * The worker's source: the same ingestor as the embedded broker, fed from an external broker
 * through a shared subscription (docs/scaling-out.md). Each connection is a persistent session
 * (clean: false) under a stable client id, subscribed at QoS 1. mqtt.js sends the PUBACK for a
 * message when `handleMessage` calls back, and hands over the next message of that connection
 * only then; so the PUBACK goes only once the message is in the journal (or kept as a counted
 * rejection), and a full journal (the ingestor waits for room) stops this connection's reading:
 * the broker holds the rest. A worker killed before a PUBACK gets the message again from the
 * broker when a connection with the same client id comes back [MQTT-4.4.0-1].
 */
export async function startBrokerSource(deps: BrokerSourceDeps): Promise<BrokerSource> {
  const { config, registry, ingestor, metrics, log } = deps
  const filters = deps.filters ?? ['iiot/v1/#', 'spBv1.0/#']
  let received = 0
  const ca = config.caFile ? readFileSync(config.caFile) : undefined

  function connect(index: number): Promise<MqttClient> {
    const clientId = `${config.clientId}-${index}`
    const options: IClientOptions = {
      clientId,
      clean: false,
      protocolVersion: 4,
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(config.username !== undefined ? { username: config.username, password: config.password } : {}),
      ...(ca ? { ca } : {}),
    }
    const client = mqtt.connect(config.url, options)
    const clog = log.child({ clientId })

    // Closes the connection without the PUBACK: the broker sends the message again on reconnect.
    const fail = (err: unknown) => {
      clog.error({ err }, 'cannot make a message durable; reconnecting so the broker sends it again')
      client.stream?.destroy()
    }

    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      const topic = packet.topic
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
      const who = identityOfTopic(registry.current(), topic)
      if (who.kind === 'ignore') return done()
      metrics.mqttIn.add()
      if (who.kind === 'refuse') {
        metrics.refused.inc({ operation: 'publish', reason: 'acl' })
        clog.warn({ topic, reason: who.message }, 'message refused: the broker should not have let it through')
        deps.keep({ topic, gateway: undefined, zone: who.zone, factory: who.factory, reason: who.reason, message: who.message, payload }).then(() => done(), fail)
        return
      }
      const started = performance.now()
      let durable: Promise<void> | undefined
      try {
        durable = ingestor.handle({ topic, payload, gatewayId: who.gatewayId }, packet.qos)
      } catch (err) {
        return fail(err)
      }
      received++
      if (!durable) return done()
      durable.then(() => {
        if (packet.qos > 0) metrics.ackLatency.observe((performance.now() - started) / 1000)
        // For API nodes' live tables (docs/scaling-out.md): at most once, after the journal, before the PUBACK.
        client.publish(announceTopicOf(config.announceTopic, who.gatewayId, topic), payload, { qos: 0 })
        done()
      }, fail)
    }

    return new Promise((resolve, reject) => {
      let first = true
      client.on('connect', (connack) => {
        clog.info({ sessionPresent: connack.sessionPresent }, 'connected to the external broker')
        // Every time, session present or not: mqtt.js leaves out of a SUBSCRIBE the filters it believes
        // subscribed, and a broker restarted with persistence (Mosquitto 2.0) restored the shared
        // subscription of a present session without delivering to it; the workers then got nothing
        // more while Mosquitto went on acknowledging gateways. Subscribing again is idempotent.
        const wanted = Object.fromEntries(filters.map((f) => [`$share/${config.shareGroup}/${f}`, { qos: 1 as const }]))
        client.subscribe({ ...wanted, resubscribe: true } as unknown as typeof wanted, (err, granted) => {
          const refused = granted?.filter((g) => g.qos === 128) ?? []
          if (err || refused.length > 0) {
            const e = err ?? new Error(`the broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}`)
            clog.error({ err: e }, 'subscription failed')
            if (first) { first = false; client.end(true); reject(e) }
            return
          }
          if (first) { first = false; resolve(client) }
        })
      })
      client.on('error', (err) => {
        clog.warn({ err }, 'external broker connection error')
        // A refused CONNECT (bad credentials, not authorized) does not get better by retrying at start.
        if (first && (err as { code?: number }).code !== undefined) { first = false; client.end(true); reject(err) }
      })
      client.on('offline', () => clog.warn('disconnected from the external broker; reconnecting'))
    })
  }

  const settled = await Promise.allSettled(Array.from({ length: config.connections }, (_, i) => connect(i)))
  const clients = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed) {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    throw failed.reason
  }
  log.info({ url: config.url, connections: clients.length, group: config.shareGroup }, 'worker consuming from the external broker')
  return {
    clients,
    received: () => received,
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(false)))
    },
  }
}
