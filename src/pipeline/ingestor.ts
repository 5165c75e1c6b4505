import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import type { PointSink } from '../storage/ports.js'
import type { AcceptedMessage, InboundMessage, Pipeline } from './pipeline.js'
import type { RejectionStore } from './rejection-store.js'

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
  onAccepted(listener: (accepted: AcceptedMessage) => void): () => void
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
  const listeners = new Set<(accepted: AcceptedMessage) => void>()
  // One warning per gateway and reason every 10 s, with how many were folded into it:
  // a misbehaving gateway must not flood the logs (the counters have every one).
  const lastWarn = new Map<string, { at: number; suppressed: number }>()
  const warnRejected = (gateway: string, topic: string, reason: string) => {
    const key = `${gateway}\0${reason}`
    const now = Date.now()
    const w = lastWarn.get(key)
    if (w && now - w.at < 10_000) {
      w.suppressed++
      return
    }
    if (lastWarn.size > 10_000) lastWarn.clear()
    lastWarn.set(key, { at: now, suppressed: 0 })
    log.warn({ gateway, topic, reason, suppressedSinceLast: w?.suppressed ?? 0 }, 'message rejected')
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
        const { lines, topic } = outcome.accepted
        if (qos === 0 && sink.full) {
          metrics.qos0Dropped.inc()
          return undefined
        }
        metrics.accepted.add(1, topic.kind)
        metrics.pointsQueued.add(lines.length)
        for (const l of listeners) l(outcome.accepted)
        // Above the high-water mark a QoS 1 publish waits: Aedes reads no more from that socket meanwhile.
        // The journal's promise is its group commit's, shared by every message in the group: no per-message chain here.
        durable = sink.full ? whenRoom(lines) : sink.append(lines)
      } else {
        metrics.rejected.inc({ reason: outcome.reason })
        warnRejected(inbound.gatewayId, inbound.topic, outcome.reason)
        durable = rejections.add({
          topic: inbound.topic,
          gateway: inbound.gatewayId,
          zone: outcome.topic?.zone,
          factory: outcome.topic?.factory,
          reason: outcome.reason,
          message: outcome.message,
          payload: inbound.payload,
        })
      }
      if (qos === 0) return durable.catch((err: unknown) => log.error({ err }, 'QoS 0 message could not be journaled'))
      return durable
    },
    onAccepted(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
