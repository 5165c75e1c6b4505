import type { AedesOptions, Client } from 'aedes'
import type { Logger } from 'pino'
import { mayPublish, maySubscribe, type GatewayIdentity } from '../domain/acl.js'
import { isUnderRoot } from '../domain/topic.js'
import { isSparkplugTopic, mayPublishSparkplug, maySubscribeSparkplug } from '../sparkplug/topic.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { LimitReporter } from './limit-reporter.js'
import type { PublishThrottle } from './publish-throttle.js'
import type { Qos2Receipts } from './qos2-receipts.js'

export interface AuthorizeDeps {
  readonly ingestor: Ingestor
  readonly metrics: Metrics
  readonly log: Logger
  readonly report: LimitReporter
  readonly throttle: PublishThrottle
  readonly qos2: Qos2Receipts
  readonly maxTopicLength: number
  identity(client: Client): GatewayIdentity | undefined
}

type PublishCallback = (error?: Error | null) => void

/**
 * Where a gateway may publish and subscribe, and the hand-off of each publish
 * to the ingestor. The publish path, in order: topic length, ACL, publish rate
 * (delay, never drop), ingest. `authorizePublish` is the only Aedes hook that
 * runs before a QoS 1 PUBACK (lib/handlers/publish.js), so the message is
 * journaled there and the callback held until it is durable.
 */
export function createAuthorizeHooks(deps: AuthorizeDeps): Pick<AedesOptions, 'authorizePublish' | 'authorizeSubscribe'> {
  const { ingestor, metrics, log, report, throttle, qos2 } = deps

  function ingest(client: Client, packet: { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; messageId?: number | undefined }, gw: GatewayIdentity, callback: PublishCallback): void {
    if (!isUnderRoot(packet.topic) && !isSparkplugTopic(packet.topic)) return callback(null)
    const started = performance.now()
    // QoS 2 is exactly once: a resend of a message journaled and not yet released (PUBREL) is
    // answered as soon as that append is durable, without a second one; Aedes finds it in its
    // incoming store and answers PUBREC again without publishing it (qos2-receipts.ts).
    const qos2Id = packet.qos === 2 ? packet.messageId : undefined
    if (qos2Id !== undefined) {
      const journaled = qos2.pending(client.id, gw.id, qos2Id)
      if (journaled) return void journaled.then(() => callback(null), (err: unknown) => callback(err as Error))
      if (qos2.full(client.id, gw.id)) {
        report('inflight_qos2', { clientId: client.id, max: qos2.maxPerClient })
        return callback(new Error('too many QoS 2 messages awaiting PUBREL'))
      }
    }
    let durable: Promise<void> | undefined
    try {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
      metrics.mqttIn.add()
      // A bad payload is accepted (acked) and kept as a rejection later, never refused (docs/delivery.md).
      // QoS 1: the PUBACK waits until the message is in the journal; meanwhile Aedes reads no more from this socket.
      // QoS 0 waits too (nothing is acknowledged): that paces a flood by the journal instead of by memory.
      durable = ingestor.handle({ topic: packet.topic, payload, gatewayId: gw.id }, packet.qos)
      if (durable && qos2Id !== undefined) qos2.journaled(client.id, gw.id, qos2Id, durable)
    } catch (err) {
      log.error({ err, clientId: client.id }, 'ingest failed; closing the connection so the gateway resends')
      return callback(err as Error)
    }
    if (!durable) return callback(null)
    durable.then(
      () => {
        if (packet.qos > 0) metrics.ackLatency.observe((performance.now() - started) / 1000)
        callback(null)
      },
      (err: unknown) => {
        log.error({ err, clientId: client.id }, 'cannot make a message durable; closing the connection so the gateway resends')
        callback(err as Error)
      },
    )
  }

  return {
    authorizePublish(client, packet, callback) {
      // Messages published through the broker's own API have no client.
      if (!client) return callback(null)
      if (packet.topic.length > deps.maxTopicLength) {
        report('topic_length', { clientId: client.id, length: packet.topic.length })
        // MQTT 3.1.1 has no negative PUBACK: refusing closes the connection.
        return callback(new Error('topic too long'))
      }
      if (illFormed(packet.topic)) {
        metrics.refused.inc({ operation: 'publish', reason: 'malformed_topic' })
        return callback(new Error('malformed topic'))
      }
      const gw = deps.identity(client)
      // Sparkplug B topics have their own ACL: an edge node's own group and id (docs/security.md).
      if (!gw || !(isSparkplugTopic(packet.topic) ? mayPublishSparkplug(gw.sparkplugNodes, packet.topic) : mayPublish(gw, packet.topic))) {
        metrics.refused.inc({ operation: 'publish', reason: 'acl' })
        log.warn({ clientId: client.id, gateway: gw?.id, topic: packet.topic }, 'publish refused: outside the gateway\'s factory')
        return callback(new Error('publish not authorized'))
      }
      // The ACL confines a gateway to ingest topics, where the journal, not the broker, keeps
      // messages: a retained publish is ingested and forwarded as usual but not stored as retained
      // (Aedes stores it after this hook, from this packet), so no gateway can grow broker memory
      // with retained topics (docs/security.md). Wills pass here too.
      packet.retain = false
      const delayed = throttle.run(gw.id, client, () => ingest(client, packet, gw, callback))
      if (delayed) report('publish_rate', { gateway: gw.id })
    },

    authorizeSubscribe(client, subscription, callback) {
      if (subscription.topic.length > deps.maxTopicLength) {
        report('topic_length', { clientId: client.id, length: subscription.topic.length })
        // A null subscription makes Aedes answer SUBACK 0x80 (failure) for it [MQTT-3.9.3].
        return callback(null, null)
      }
      if (illFormed(subscription.topic)) {
        metrics.refused.inc({ operation: 'subscribe', reason: 'malformed_topic' })
        return callback(new Error('malformed topic filter'))
      }
      const gw = deps.identity(client)
      if (!gw || !(isSparkplugTopic(subscription.topic) ? maySubscribeSparkplug(gw.sparkplugNodes, subscription.topic) : maySubscribe(gw, subscription.topic))) {
        metrics.refused.inc({ operation: 'subscribe', reason: 'acl' })
        return callback(null, null)
      }
      callback(null, subscription)
    },
  }
}

/**
 * mqtt-packet decodes ill-formed UTF-8 to U+FFFD instead of failing, so a
 * replacement character stands for it here; ill-formed UTF-8 [MQTT-1.5.3-1]
 * and U+0000 [MQTT-1.5.3-2] close the connection. (No topic of ours contains
 * a genuine U+FFFD: its levels are slugs.)
 */
function illFormed(topic: string): boolean {
  return topic.includes('\uFFFD') || topic.includes('\u0000')
}
