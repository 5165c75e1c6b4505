import type { AedesOptions, Client } from 'aedes'
import type { Logger } from 'pino'
import { mayPublish, maySubscribe, type GatewayIdentity } from '../domain/acl.js'
import { factoryPrefix, isUnderRoot } from '../domain/topic.js'
import { isSparkplugTopic, mayPublishSparkplug, maySubscribeSparkplug } from '../sparkplug/topic.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { Forwarding } from './forwarding.js'
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
  readonly forwarding: Forwarding
  readonly maxTopicLength: number
  readonly maxSubscriptionsPerClient: number
  identity(client: Client): GatewayIdentity | undefined
}

type PublishCallback = (error?: Error | null) => void

/** Publishes waiting for one journal record's group commit, in arrival order. */
interface Waiting {
  readonly callbacks: PublishCallback[]
  readonly clients: Client[]
  /** performance.now() when its first publish was journaled: a record is one tick's publishes (one socket chunk's, typically), received together. */
  readonly started: number
  /** Its QoS 1 and 2 publishes, whose acknowledgement is timed. */
  timed: number
}

/**
 * Where a gateway may publish and subscribe, and the hand-off of each publish
 * to the ingestor. The publish path, in order: topic length, ACL, publish rate
 * (delay, never drop), ingest. `authorizePublish` is the only Aedes hook that
 * runs before a QoS 1 PUBACK (lib/handlers/publish.js), so the message is
 * journaled there and the callback held until it is durable.
 */
export function createAuthorizeHooks(deps: AuthorizeDeps): Pick<AedesOptions, 'authorizePublish' | 'authorizeSubscribe'> {
  const { ingestor, metrics, log, report, throttle, qos2 } = deps
  // The publishes journaled in one tick share their record's promise (the journal's group commit):
  // one reaction settles them all, in order, rather than a promise and two closures per message.
  let group: Promise<void> | undefined
  let waiting: Waiting | undefined
  /** Filters granted to a client in this tick, which Aedes may not have added to its subscriptions yet (cleared after the tick). */
  const granting = new WeakMap<Client, Set<string>>()

  function settle(w: Waiting, err: unknown, failed: boolean): void {
    if (!failed && w.timed > 0) metrics.ackLatency.record((performance.now() - w.started) / 1000, w.timed)
    for (let i = 0; i < w.callbacks.length; i++) {
      try {
        if (failed) {
          log.error({ err, clientId: w.clients[i]!.id }, 'cannot make a message durable; closing the connection so the gateway resends')
          w.callbacks[i]!(err as Error)
          continue
        }
        w.callbacks[i]!(null)
      } catch (thrown) {
        // One publish's callback must not keep the others of its record from being answered.
        log.error({ err: thrown, clientId: w.clients[i]!.id }, 'publish callback failed')
      }
    }
  }

  function whenDurable(durable: Promise<void>, client: Client, qos: number, callback: PublishCallback): void {
    if (durable !== group || !waiting) {
      const w: Waiting = { callbacks: [], clients: [], started: performance.now(), timed: 0 }
      group = durable
      waiting = w
      durable.then(
        () => settle(w, undefined, false),
        (err: unknown) => settle(w, err, true),
      )
    }
    waiting.callbacks.push(callback)
    waiting.clients.push(client)
    if (qos > 0) waiting.timed++
  }

  function ingest(client: Client, packet: { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; messageId?: number | undefined }, gw: GatewayIdentity, callback: PublishCallback): void {
    if (!isUnderRoot(packet.topic) && !isSparkplugTopic(packet.topic)) return callback(null)
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
    whenDurable(durable, client, packet.qos, callback)
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
      // Within the rate (or with no limit) the publish proceeds at once, with no closure to hold it.
      const waitMs = throttle.admit(gw.id, client)
      if (waitMs < 0) return ingest(client, packet, gw, callback)
      throttle.defer(client, waitMs, () => ingest(client, packet, gw, callback))
      if (waitMs > 0) report('publish_rate', { gateway: gw.id })
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
      // Held, plus granted in this tick and not yet added (Aedes authorizes a SUBSCRIBE's filters at
      // once, then adds them): 100,000 filters once stalled the event loop for 0.8 s and kept 150 MB.
      const subs = (client as { subscriptions?: Record<string, unknown> }).subscriptions ?? {}
      const granted = granting.get(client)
      let pending = 0
      if (granted) for (const t of granted) if (!(t in subs)) pending++
      if (!(subscription.topic in subs) && !granted?.has(subscription.topic) && Object.keys(subs).length + pending >= deps.maxSubscriptionsPerClient) {
        report('subscriptions', { clientId: client.id, max: deps.maxSubscriptionsPerClient })
        return callback(null, null)
      }
      const gw = deps.identity(client)
      if (!gw || !(isSparkplugTopic(subscription.topic) ? maySubscribeSparkplug(gw.sparkplugNodes, subscription.topic) : maySubscribe(gw, subscription.topic))) {
        metrics.refused.inc({ operation: 'subscribe', reason: 'acl' })
        return callback(null, null)
      }
      // Publishes in this factory may now reach someone: they go through the broker's pub/sub again.
      if (!isSparkplugTopic(subscription.topic)) deps.forwarding.granted(factoryPrefix(gw.zone, gw.factory))
      if (granted) granted.add(subscription.topic)
      else {
        granting.set(client, new Set([subscription.topic]))
        setImmediate(() => granting.delete(client))
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
