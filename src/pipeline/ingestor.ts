import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import type { PointSink } from '../storage/ports.js'
import type { AcceptedMessage, InboundMessage, Pipeline } from './pipeline.js'
import { createLogSampler } from './log-sampler.js'
import type { RejectionStore } from './rejection-store.js'

export type AcceptedListener = (accepted: AcceptedMessage) => void

export interface Ingestor {
  /**
   * Handles one publish. For QoS 1 the returned promise resolves when the
   * outcome is durable (points journaled, or the rejection recorded): only
   * then may the broker acknowledge. QoS 0 has no acknowledgement, but the
   * broker holds it the same way: Aedes reads no more from that socket until
   * the promise resolves, so a QoS 0 flood is paced by the journal (TCP
   * pushes back on the gateway) instead of piling up in memory. When the
   * journal is full a QoS 0 message is dropped and counted at once.
   */
  handle(inbound: InboundMessage, qos: 0 | 1 | 2): Promise<void> | undefined
  /**
   * Calls `listener` with each accepted message once its points are durable (never before, and
   * never for a message whose append failed), in arrival order. A listener that throws is counted
   * (`iiot_listener_errors_total{listener=name}`) and logged; the publisher never sees it
   * (docs/delivery.md). Returns the unsubscribe function.
   */
  onAccepted(listener: AcceptedListener, name: string): () => void
}

export interface IngestorDeps {
  readonly pipeline: Pipeline
  readonly sink: PointSink
  readonly rejections: RejectionStore
  readonly metrics: Metrics
  readonly log: Logger
}

export function createIngestor(deps: IngestorDeps): Ingestor {
  const { pipeline, sink, rejections, metrics, log } = deps
  const listeners = new Set<{ readonly name: string; readonly fn: AcceptedListener }>()
  // One log line per gateway and reason (per listener, for listener errors) every 10 s: the counters have every one.
  const sampleRejected = createLogSampler()
  const sampleListenerError = createLogSampler()

  /** The accepted messages waiting for one durable promise: the journal shares a group commit's among its messages. */
  let group: { readonly durable: Promise<void>; readonly members: AcceptedMessage[] } | undefined

  /** Counts and announces `accepted` once `durable` resolves; nothing if it rejects (the gateway resends). */
  function afterDurable(durable: Promise<void>, accepted: AcceptedMessage): void {
    if (group?.durable === durable) {
      group.members.push(accepted)
      return
    }
    const g = { durable, members: [accepted] }
    group = g
    // One promise reaction per group commit, not per message (bench/README: per-message overhead).
    durable.then(
      () => {
        if (group === g) group = undefined
        for (const a of g.members) settled(a)
      },
      () => {
        if (group === g) group = undefined
      },
    )
  }

  function settled(accepted: AcceptedMessage): void {
    metrics.accepted.add(1, accepted.topic.kind)
    metrics.pointsQueued.add(accepted.lines.length)
    for (const l of listeners) {
      try {
        l.fn(accepted)
      } catch (err) {
        metrics.listenerErrors.inc({ listener: l.name })
        const suppressedSinceLast = sampleListenerError(l.name)
        if (suppressedSinceLast !== undefined) log.error({ err, listener: l.name, gateway: accepted.gatewayId, suppressedSinceLast }, 'a listener of accepted messages failed; the message is journaled and acknowledged all the same')
      }
    }
  }

  async function whenRoom(lines: readonly string[]): Promise<void> {
    await sink.waitForRoom()
    await sink.append(lines)
  }

  return {
    handle(inbound, qos) {
      const outcome = pipeline.ingest(inbound)
      let durable: Promise<void>
      if (outcome.ok) {
        const { lines } = outcome.accepted
        if (qos === 0 && sink.full) {
          metrics.qos0Dropped.inc()
          return undefined
        }
        // Above the high-water mark a QoS 1 publish waits: Aedes reads no more from that socket meanwhile.
        // The journal's promise is its group commit's, shared by every message in the group: no per-message chain here.
        durable = sink.full ? whenRoom(lines) : sink.append(lines)
        afterDurable(durable, outcome.accepted)
      } else {
        const { reason } = outcome
        const suppressedSinceLast = sampleRejected(`${inbound.gatewayId}\0${reason}`)
        if (suppressedSinceLast !== undefined) log.warn({ gateway: inbound.gatewayId, topic: inbound.topic, reason, suppressedSinceLast }, 'message rejected')
        // Counted once the rejection is kept: a rejection that could not be recorded closes the connection and is resent.
        durable = rejections
          .add({
            topic: inbound.topic,
            gateway: inbound.gatewayId,
            zone: outcome.topic?.zone,
            factory: outcome.topic?.factory,
            reason,
            message: outcome.message,
            payload: inbound.payload,
          })
          .then(() => void metrics.rejected.inc({ reason }))
      }
      if (qos === 0) return durable.catch((err: unknown) => log.error({ err }, 'QoS 0 message could not be made durable (journal or rejection store); it is lost, as QoS 0 allows'))
      return durable
    },
    onAccepted(fn, name) {
      const entry = { name, fn }
      listeners.add(entry)
      return () => listeners.delete(entry)
    },
  }
}
