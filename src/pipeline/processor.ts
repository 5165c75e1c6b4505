import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import type { RecordBatch } from '../spool/journal.js'
import { decodeFrames } from '../spool/message-frame.js'
import { createLogSampler } from './log-sampler.js'
import type { AcceptedMessage, Pipeline } from './pipeline.js'
import type { RejectionKeeper } from './rejection-keeper.js'
import type { JournalPosition, RejectionStore } from './rejection-store.js'

export type AcceptedListener = (accepted: AcceptedMessage) => void

/** What one batch of journal records became. */
export interface ProcessedBatch {
  /** Line protocol of the accepted messages, joined by "\n" (empty when none). */
  readonly text: string
  readonly lineCount: number
  /** Resolves once every rejection of the batch is kept: only then may the checkpoint pass it. */
  readonly kept: Promise<void>
}

export interface Processor {
  /**
   * Decodes, validates and maps the messages of `batch`, in journal order, on the read side of the
   * journal (after their acknowledgement). Accepted messages are counted and announced to the
   * listeners at once; rejected ones are kept with their reason, each once even when the batch is
   * decoded again after a crash. Records written as line protocol pass through as they are.
   */
  process(batch: RecordBatch): ProcessedBatch
  /**
   * Calls `listener` with each accepted message, in journal order, as soon as it is decoded (it is
   * durable by then). A listener that throws is counted (`iiot_listener_errors_total{listener=name}`)
   * and logged; nothing else feels it (docs/delivery.md). Returns the unsubscribe function.
   */
  onAccepted(listener: AcceptedListener, name: string): () => void
}

export interface ProcessorDeps {
  readonly pipeline: Pipeline
  readonly rejections: Pick<RejectionStore, 'holds'>
  /** Records below this sequence number are replayed from before this process started (Journal.replayBelowSeq). */
  readonly replayBelowSeq: number
  readonly keeper: Pick<RejectionKeeper, 'keep'>
  readonly metrics: Metrics
  readonly log: Logger
}

/** The processing path: everything the acknowledgement no longer waits for (docs/architecture.md). */
export function createProcessor(deps: ProcessorDeps): Processor {
  const { pipeline, rejections, keeper, metrics, log } = deps
  const listeners = new Set<{ readonly name: string; readonly fn: AcceptedListener }>()
  // One log line per gateway and reason (per listener, for listener errors) every 10 s: the counters have every one.
  const sampleRejected = createLogSampler()
  const sampleListenerError = createLogSampler()

  function announce(accepted: AcceptedMessage): void {
    metrics.accepted.add(1, accepted.topic.kind)
    metrics.pointsQueued.add(accepted.lines.length)
    for (const l of listeners) {
      try {
        l.fn(accepted)
      } catch (err) {
        metrics.listenerErrors.inc({ listener: l.name })
        const suppressedSinceLast = sampleListenerError(l.name)
        if (suppressedSinceLast !== undefined) log.error({ err, listener: l.name, gateway: accepted.gatewayId, suppressedSinceLast }, 'a listener of accepted messages failed; the message is stored all the same')
      }
    }
  }

  return {
    process(batch) {
      const texts: string[] = []
      let lineCount = 0
      const keeping: Promise<void>[] = []
      for (const record of batch.records) {
        if (record.format === 'lines') {
          if (record.payload.length > 0) texts.push(record.payload.toString('utf8'))
          lineCount += record.lineCount
          continue
        }
        let frames
        try {
          frames = decodeFrames(record.payload)
        } catch (err) {
          // The record passed its checksum, so this is a bug of ours, not a gateway's: say so loudly, keep going.
          log.error({ err, seq: record.seq }, 'a journal record of frames could not be split into messages; skipped')
          continue
        }
        for (let index = 0; index < frames.length; index++) {
          const f = frames[index]!
          const outcome = pipeline.ingest({ topic: f.topic, payload: f.payload, gatewayId: f.gatewayId, receivedMs: f.receivedMs })
          if (outcome.ok) {
            // Lines gathered one by one and joined once for the batch, not once per message as well.
            for (const l of outcome.accepted.lines) texts.push(l)
            lineCount += outcome.accepted.lines.length
            announce(outcome.accepted)
            continue
          }
          const source: JournalPosition = { seq: record.seq, index }
          // Decoded again after a crash: its rejection may have been kept the first time.
          if (record.seq < deps.replayBelowSeq && rejections.holds(source)) continue
          const { reason } = outcome
          const suppressedSinceLast = sampleRejected(`${f.gatewayId}\0${reason}`)
          if (suppressedSinceLast !== undefined) log.warn({ gateway: f.gatewayId, topic: f.topic, reason, suppressedSinceLast }, 'message rejected')
          keeping.push(keeper.keep({ topic: f.topic, gateway: f.gatewayId, zone: outcome.topic?.zone, factory: outcome.topic?.factory, reason, message: outcome.message, payload: f.payload, source }))
        }
      }
      return { text: texts.join('\n'), lineCount, kept: keeping.length > 0 ? Promise.all(keeping).then(() => undefined) : Promise.resolve() }
    },
    onAccepted(fn, name) {
      const entry = { name, fn }
      listeners.add(entry)
      return () => listeners.delete(entry)
    },
  }
}
