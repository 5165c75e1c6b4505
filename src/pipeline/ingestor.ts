import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import { estimatedPoints } from '../spool/message-frame.js'
import type { MessageLog } from '../storage/ports.js'
import type { InboundMessage } from './pipeline.js'
import type { AcceptedListener, Processor } from './processor.js'

export interface Ingestor {
  /**
   * The acknowledgement path of one publish the broker already authenticated and authorized:
   * the message, as received, is appended to the journal, and for QoS 1 the returned promise
   * resolves once it is durable; only then may the broker acknowledge. Decoding, validation and
   * mapping to points happen later, from the journal (processor.ts): a bad payload is
   * acknowledged, and ends as a counted rejection there. QoS 0 has no acknowledgement, but the
   * broker holds it the same way: Aedes reads no more from that socket until the promise
   * resolves, so a QoS 0 flood is paced by the journal (TCP pushes back on the gateway) instead of
   * piling up in memory. When the journal is full a QoS 0 message is dropped and counted at once.
   */
  handle(inbound: InboundMessage, qos: 0 | 1 | 2): Promise<void> | undefined
  /** Accepted messages, once decoded from the journal (see `Processor.onAccepted`). */
  onAccepted(listener: AcceptedListener, name: string): () => void
}

export interface IngestorDeps {
  readonly journal: MessageLog
  readonly processor: Pick<Processor, 'onAccepted'>
  readonly metrics: Metrics
  readonly log: Logger
}

export function createIngestor(deps: IngestorDeps): Ingestor {
  const { journal, processor, metrics, log } = deps

  async function whenRoom(inbound: InboundMessage, qos: number, receivedMs: number, points: number): Promise<void> {
    await journal.waitForRoom()
    await journal.appendMessage(inbound.topic, inbound.gatewayId, qos, receivedMs, inbound.payload, points)
  }

  let qos0Durable: Promise<void> | undefined
  let qos0Handled: Promise<void> | undefined

  return {
    handle(inbound, qos) {
      // Read once per message: `full` also consults the disk's free-space estimate.
      const full = journal.full
      if (qos === 0 && full) {
        metrics.qos0Dropped.inc()
        return undefined
      }
      const receivedMs = inbound.receivedMs ?? Date.now()
      const points = estimatedPoints(inbound.payload.length)
      // Above the high-water mark a QoS 1 publish waits: Aedes reads no more from that socket meanwhile.
      // The journal's promise is its group commit's, shared by every message in the group: no per-message chain here,
      // and the message is written once, straight into the journal's record (no frame buffer per message).
      const durable = full ? whenRoom(inbound, qos, receivedMs, points) : journal.appendMessage(inbound.topic, inbound.gatewayId, qos, receivedMs, inbound.payload, points)
      if (qos !== 0) return durable
      // QoS 0 messages of one record share one outcome, and one promise that reports its failure.
      if (durable !== qos0Durable) {
        qos0Durable = durable
        qos0Handled = durable.catch((err: unknown) => log.error({ err }, 'QoS 0 messages could not be journaled; they are lost, as QoS 0 allows'))
      }
      return qos0Handled
    },
    onAccepted: (listener, name) => processor.onAccepted(listener, name),
  }
}
