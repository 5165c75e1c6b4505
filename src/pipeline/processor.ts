import type { Logger } from 'pino'
import type { LiveStateTable } from '../domain/live-state.js'
import type { DecodedMessage } from '../domain/records.js'
import { parseTopic, type ParsedTopic } from '../domain/topic.js'
import type { Metrics } from '../metrics/metrics.js'
import type { RecordBatch } from '../spool/journal.js'
import { anyTopicStartsWith, decodeFrames, type MessageFrame } from '../spool/message-frame.js'
import { decodePart, type DecodedPart } from './decode-part.js'
import { internedText, TEXTS_INTERNED } from './byte-keyed-cache.js'
import type { DecodePool } from './decode-pool.js'
import { gatewayPartition, type PartResult } from './decode-protocol.js'
import { createLogSampler } from './log-sampler.js'
import { BufferPool } from '../spool/buffer-pool.js'
import { asBuffer, joinLineBodies } from '../spool/line-bodies.js'
import { decodeSparkplugPart, type SparkplugPart } from '../sparkplug/sparkplug-part.js'
import { SPARKPLUG_PREFIX } from '../sparkplug/topic.js'
import type { SparkplugHost } from '../sparkplug/host.js'
import type { AcceptedMessage, Pipeline } from './pipeline.js'
import type { RejectionKeeper } from './rejection-keeper.js'
import type { JournalPosition, RejectionStore } from './rejection-store.js'

export type AcceptedListener = (accepted: AcceptedMessage) => void

/** What one batch of journal records became. */
export interface ProcessedBatch {
  /** Line protocol of the accepted messages as UTF-8, joined by "\n" (empty when none). */
  readonly body: Buffer
  readonly lineCount: number
  /** Resolves once every rejection of the batch is kept: only then may the checkpoint pass it. */
  readonly kept: Promise<void>
  /** The body is read no more (it was written, or will be decoded again): its memory may hold another batch's. */
  release(): void
}

export interface Processor {
  /**
   * Decodes, validates and maps the messages of `batch` on the read side of the journal (after
   * their acknowledgement): on this thread, at once, or on the decode workers, when the answer
   * is a promise. Batches are finished in the order they were given, and each gateway's messages
   * in journal order. Accepted messages are counted and announced to the listeners; rejected ones
   * are kept with their reason, each once even when the batch is decoded again after a crash.
   * Records written as line protocol pass through as they are.
   */
  process(batch: RecordBatch): ProcessedBatch | Promise<ProcessedBatch>
  /**
   * Calls `listener` with each accepted message, in journal order per gateway, as soon as it is
   * decoded (it is durable by then). A listener that throws is counted
   * (`iiot_listener_errors_total{listener=name}`) and logged; nothing else feels it
   * (docs/delivery.md). Returns the unsubscribe function.
   */
  onAccepted(listener: AcceptedListener, name: string): () => void
  /** Stops the decode workers (after the drainer stopped asking). */
  close(): Promise<void>
}

export interface ProcessorDeps {
  /** The main thread's pipeline: it decodes when there are no workers (or one was lost), and reads accepted messages for listeners. */
  readonly pipeline: Pipeline
  /** The decode workers; none: everything is decoded on this thread. */
  readonly pool?: DecodePool | undefined
  /** The live table the API reads: workers' updates to their copies are applied to it. */
  readonly live: LiveStateTable
  /** Sparkplug B: its frames are decoded here, on the main thread, never by the workers (docs/sparkplug.md). */
  readonly sparkplug?: Pick<SparkplugHost, 'handle' | 'flush'> | undefined
  readonly rejections: Pick<RejectionStore, 'holds'>
  /** Records below this sequence number are replayed from before this process started (Journal.replayBelowSeq). */
  readonly replayBelowSeq: number
  readonly keeper: Pick<RejectionKeeper, 'keep'>
  readonly metrics: Metrics
  readonly log: Logger
}

const NONE: readonly PartResult[] = []
/** A part's body is a slice of a batch (drainer.ts reads about 500 lines at a time; a read is whole journal records): tens to hundreds of kilobytes. */
const PART_SLAB_MIN = 64 * 1024
/** Larger parts (a flood's records) take fresh memory. */
const PART_SLAB_MAX = 4 * 1024 * 1024
/** Enough for the reads of the requests in flight (a request of 5,000 lines is about ten), and bounded. */
const PART_SLABS_KEPT = 16
const SPARKPLUG_PREFIX_BYTES = Buffer.from(SPARKPLUG_PREFIX)

/** The processing path: everything the acknowledgement no longer waits for (docs/architecture.md). */
export function createProcessor(deps: ProcessorDeps): Processor {
  const { pipeline, pool, live, rejections, keeper, metrics, log } = deps
  const listeners = new Set<{ readonly name: string; readonly fn: AcceptedListener }>()
  // One log line per gateway and reason (per listener, for listener errors) every 10 s: the counters have every one.
  const sampleRejected = createLogSampler()
  const sampleListenerError = createLogSampler()
  const topics = new Map<string, ParsedTopic>()
  /**
   * The bodies of the parts decoded on this thread, in memory used again: fresh memory per part
   * was most of the external memory the service allocated, and that churn alone started full
   * collections (docs/decisions.md, "Full collections from external memory"). Workers' bodies
   * are moved here from their threads and are only garbage afterwards.
   */
  const partBodies = new BufferPool(PART_SLAB_MIN, PART_SLAB_MAX, PART_SLABS_KEPT)
  /** Batches given to the workers finish in order: each waits for the one before. */
  let tail: Promise<unknown> = Promise.resolve()

  function announce(accepted: AcceptedMessage, lineCount: number): void {
    metrics.accepted.add(1, accepted.topic.kind)
    metrics.pointsQueued.add(lineCount)
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

  function topicOf(topic: string): ParsedTopic {
    let t = topics.get(topic)
    if (!t) {
      const parsed = parseTopic(topic)
      // Only an accepted message's topic is asked for: a pipeline accepted it, so it parses.
      if (!parsed.ok) throw new Error(`accepted message with a bad topic ${topic}`)
      t = parsed.topic
      if (topics.size >= 100_000) topics.clear()
      topics.set(topic, t)
    }
    return t
  }

  const splitParts = new WeakMap<PartResult, string[]>()

  /** An accepted message another thread decoded: what listeners read of it is decoded here only when read. */
  function acceptedFromWorker(frame: MessageFrame, part: PartResult, firstLine: number, lineCount: number): AcceptedMessage {
    const topic = topicOf(frame.topic)
    let message: DecodedMessage | undefined
    let read = false
    return {
      topic,
      gatewayId: frame.gatewayId,
      get message() {
        if (!read) {
          read = true
          message = pipeline.messageOf(frame.topic, topic.kind, frame.payload, frame.receivedMs)
        }
        return message
      },
      get lines() {
        // Split once per part, however many of its messages a listener reads (material messages: two listeners each).
        let all = splitParts.get(part)
        if (!all) splitParts.set(part, (all = asBuffer(part.body).toString('utf8').split('\n')))
        return all.slice(firstLine, firstLine + lineCount)
      },
    }
  }

  /** Counts, announces and keeps what the parts of one batch became; the lines, joined. */
  function finish(records: readonly FrameRecord[], parts: readonly (PartResult | DecodedPart | SparkplugPart)[], inline: readonly AcceptedMessage[], passBodies: readonly Buffer[], passLines: number): ProcessedBatch {
    const bodies: Uint8Array[] = [...passBodies]
    let lineCount = passLines
    const keeping: Promise<void>[] = []
    for (const part of parts) {
      if ('seen' in part) {
        for (const [kind, n] of Object.entries(part.received)) metrics.received.add(n, kind)
        if (part.divergences > 0) metrics.fastPathDivergences.inc(part.divergences)
        for (const [key, ms] of part.seen) live.seen(key, ms)
        for (const [key, state, reasonCode, alarmCodes, tsMs] of part.states) live.applyState(key, { state, reasonCode, alarmCodes, tsMs })
      }
      bodies.push(part.body)
      const a = part.accepted
      for (let i = 0, line = 0; i < a.length; i += 3) {
        const r = a[i]!, f = a[i + 1]!, n = a[i + 2]!
        const accepted = 'seen' in part ? acceptedFromWorker(records[r]!.frames()[f]!, part, line, n) : ('inline' in part ? part.inline : inline)[i / 3]!
        lineCount += n
        line += n
        announce(accepted, n)
      }
      for (const x of part.rejected) {
        const record = records[x.record]!
        const source: JournalPosition = { seq: record.seq, index: x.frame }
        // Decoded again after a crash: its rejection may have been kept the first time.
        if (record.seq < deps.replayBelowSeq && rejections.holds(source, deps.replayBelowSeq)) continue
        const frame = record.frames()[x.frame]!
        const suppressedSinceLast = sampleRejected(`${frame.gatewayId}\0${x.reason}`)
        if (suppressedSinceLast !== undefined) log.warn({ gateway: frame.gatewayId, topic: frame.topic, reason: x.reason, suppressedSinceLast }, 'message rejected')
        keeping.push(keeper.keep({ topic: frame.topic, gateway: frame.gatewayId, zone: x.zone, factory: x.factory, reason: x.reason, message: x.message, payload: frame.payload, source }))
      }
    }
    const body = joinLineBodies(bodies)
    // Copied into one body: the parts' own memory is free again.
    for (const b of bodies) if (b !== body) partBodies.release(b)
    return {
      body,
      lineCount,
      kept: keeping.length > 0 ? Promise.all(keeping).then(() => undefined) : Promise.resolve(),
      release: () => partBodies.release(body),
    }
  }

  /** Decodes on this thread the share of `owner` (all, without workers), into `inline`. */
  function decodeHere(records: readonly FrameRecord[], owner: number | undefined, inline: AcceptedMessage[]): DecodedPart {
    const collecting: Pipeline = { ...pipeline, ingest: (m, sink) => {
      const outcome = pipeline.ingest(m, sink)
      if (outcome.ok) inline.push(outcome.accepted)
      return outcome
    } }
    const owns = owner === undefined ? () => true : (gw: string) => gatewayPartition(gw, pool!.size) === owner
    return decodePart(collecting, records.length, (r) => records[r]!.frames(), owns, partBodies.alloc)
  }

  /** Sparkplug B frames of the batch, after the rest, in batch order (docs/sparkplug.md). */
  // Only records holding a Sparkplug frame are split here: with decode workers, the others never need their frames on this thread.
  const sparkplugPart = (records: readonly FrameRecord[]): SparkplugPart[] =>
    deps.sparkplug ? [decodeSparkplugPart(deps.sparkplug, records.length, (r) => (anyTopicStartsWith(records[r]!.bytes, SPARKPLUG_PREFIX_BYTES) ? records[r]!.frames() : undefined))] : []

  return {
    process(batch) {
      const passBodies: Buffer[] = []
      let passLines = 0
      const records: FrameRecord[] = []
      for (const record of batch.records) {
        if (record.format === 'lines') {
          passBodies.push(record.payload)
          passLines += record.lineCount
          continue
        }
        records.push(frameRecord(record.seq, record.payload, log))
      }
      if (!pool || records.length === 0) {
        const inline: AcceptedMessage[] = []
        const part = records.length > 0 ? [decodeHere(records, undefined, inline), ...sparkplugPart(records)] : NONE
        return finish(records, part, inline, passBodies, passLines)
      }
      const answers = Promise.all(pool.run(records.map((r) => r.bytes)).map((p) => p.catch((err: unknown) => err as Error)))
      const done = tail.then(() => answers).then((parts) => {
        const inline: AcceptedMessage[] = []
        // A worker lost with this batch unanswered: its share is decoded here, in its place in the order.
        const whole = parts.map((p, i) => (p instanceof Error ? decodeHere(records, i, inline) : p))
        return finish(records, [...whole, ...sparkplugPart(records)], inline, passBodies, passLines)
      })
      tail = done.catch(() => undefined)
      return done
    },
    onAccepted(fn, name) {
      const entry = { name, fn }
      listeners.add(entry)
      return () => listeners.delete(entry)
    },
    close: () => pool?.close() ?? Promise.resolve(),
  }
}

/** A journal record of message frames; split into frames on first use (and then kept). */
interface FrameRecord {
  readonly seq: number
  readonly bytes: Buffer
  frames(): readonly MessageFrame[]
}

const text = internedText(TEXTS_INTERNED)

function frameRecord(seq: number, bytes: Buffer, log: Logger): FrameRecord {
  let frames: readonly MessageFrame[] | undefined
  return {
    seq,
    bytes,
    frames() {
      if (!frames) {
        try {
          frames = decodeFrames(bytes, text)
        } catch (err) {
          // The record passed its checksum, so this is a bug of ours, not a gateway's: say so loudly, keep going.
          log.error({ err, seq }, 'a journal record of frames could not be split into messages; skipped')
          frames = []
        }
      }
      return frames
    },
  }
}
