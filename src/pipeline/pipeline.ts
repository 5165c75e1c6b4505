import type { Logger } from 'pino'
import type { IngestLimits } from '../config/config.js'
import type { DecodedMessage } from '../domain/records.js'
import type { LiveStateTable } from '../domain/live-state.js'
import { machineKey } from '../domain/machine-key.js'
import { parseTopic, type MachineTopic, type ParsedTopic } from '../domain/topic.js'
import type { RegistrySource } from '../registry/registry-store.js'
import { CounterTracker } from './counter-tracker.js'
import { createLogSampler } from './log-sampler.js'
import { MaterialTracker } from './material-tracker.js'
import type { MessageTypes } from './proto-schema.js'
import { toLines } from './to-lines.js'
import { LineSink } from './line-sink.js'
import { createTelemetryFastPath } from './telemetry-fast-path.js'
import type { Validate } from './validate.js'

export interface InboundMessage {
  readonly topic: string
  readonly payload: Buffer
  /** The authenticated gateway id (the MQTT username). */
  readonly gatewayId: string
  /** When the broker received it: the clock its time checks use (default: now). */
  readonly receivedMs?: number
}

export interface AcceptedMessage {
  readonly topic: ParsedTopic
  readonly gatewayId: string
  /**
   * The decoded message. Undefined only when the telemetry fast path accepted a message its
   * reference path rejects (a fast-path bug, counted in `iiot_fast_path_divergences_total`):
   * the lines are then all that is known. Reading it never throws.
   */
  readonly message: DecodedMessage | undefined
  readonly lines: readonly string[]
}

export type IngestOutcome =
  | { readonly ok: true; readonly accepted: AcceptedMessage }
  | { readonly ok: false; readonly reason: string; readonly message: string; readonly topic: ParsedTopic | undefined }

/** The state one message carries through the steps. */
interface Context {
  readonly inbound: InboundMessage
  /** The clock every time check of this message uses. */
  readonly nowMs: number
  /** `machineKey` of a machine topic. */
  machineKey?: string
  topic?: ParsedTopic
  decoded?: unknown
  message?: DecodedMessage
  lines?: string[]
}

type StepResult = void | { reason: string; message: string }

interface Step {
  readonly name: string
  run(ctx: Context): StepResult
}

export interface PipelineDeps {
  readonly registry: RegistrySource
  readonly types: MessageTypes
  readonly validate: Validate
  readonly metrics: PipelineMetrics
  readonly limits: IngestLimits & { readonly maxPayloadBytes: number }
  /** The live machine table, kept current from every accepted message. */
  readonly live: LiveStateTable
  readonly log: Logger
  /** The telemetry fast path (telemetry-fast-path.ts); on unless false. */
  readonly fastPath?: boolean
  readonly now?: () => number
}

/** The counters the steps bump (a decode worker passes its own and reports them with each batch). */
export interface PipelineMetrics {
  readonly received: { add(n?: number, label?: string): void }
  readonly fastPathDivergences: { inc(): void }
}

export interface Pipeline {
  /**
   * The steps by name: every message passes `admission`; then telemetry of a machine is offered
   * to the fast path, which accepts it or declines, and what it declines (and every other kind)
   * goes through `reference`, which accepts or rejects with the reason.
   */
  readonly steps: { readonly admission: readonly string[]; readonly fast: string; readonly reference: readonly string[] }
  /**
   * Runs the steps; pure apart from the `received` counter. With a `sink`, an accepted message's
   * lines are written to it as well (the fast path writes only there; `accepted.lines` then
   * writes them again, into a scratch sink of its own, when asked: the part's sink is not read
   * after the part is built, so its body's memory can be used again once it is written).
   */
  ingest(inbound: InboundMessage, sink?: LineSink): IngestOutcome
  /**
   * The reference path's reading of a message another pipeline (a decode worker's) accepted,
   * with the clock it used; undefined, counted and logged, when this path rejects it. Never throws.
   */
  messageOf(topic: string, kind: ParsedTopic['kind'], payload: Buffer, nowMs: number): DecodedMessage | undefined
}

/**
 * The ingest path as ordered lists of named steps (docs/architecture.md), as
 * Aedes lists its publish actions: admission, then the fast path or the
 * reference path. Each step either passes or rejects with a reason; no step
 * asks what an earlier one decided. Synchronous and free of
 * I/O: it runs on the journal's read side (processor.ts), which hands the lines
 * to the writer and keeps the rejections.
 */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const { registry, types, validate, metrics, limits, log } = deps
  const now = deps.now ?? Date.now
  const trackers = { counters: new CounterTracker(), live: deps.live, materials: new MaterialTracker() }
  const fastTelemetry = deps.fastPath === false ? undefined : createTelemetryFastPath(limits, types.telemetry)
  if (!fastTelemetry && deps.fastPath !== false) log.warn('the telemetry fast path does not match proto/iiot/v1/telemetry.proto; every message takes the reference path')

  // Topics repeat (one per machine and kind): each is parsed once. Bounded; only valid topics are kept.
  const topics = new Map<string, { readonly topic: ParsedTopic; readonly machineKey: string | undefined }>()

  const admission: Step[] = [
    {
      name: 'parse-topic',
      run(ctx) {
        let known = topics.get(ctx.inbound.topic)
        if (!known) {
          const parsed = parseTopic(ctx.inbound.topic)
          if (!parsed.ok) return { reason: 'bad_topic', message: parsed.reason }
          const t = parsed.topic
          known = { topic: t, machineKey: t.scope === 'machine' ? machineKey(t.zone, t.factory, t.line, t.machine) : undefined }
          if (topics.size >= 100_000) topics.clear()
          topics.set(ctx.inbound.topic, known)
        }
        ctx.topic = known.topic
        ctx.machineKey = known.machineKey
        metrics.received.add(1, known.topic.kind)
      },
    },
    {
      name: 'resolve-identity',
      run(ctx) {
        const t = ctx.topic!
        const reg = registry.current()
        if (t.scope === 'gateway') {
          const gw = reg.gateway(t.gateway)
          if (!gw || gw.zone !== t.zone || gw.factory !== t.factory) return { reason: 'unknown_gateway', message: `gateway "${t.gateway}" is not registered in ${t.zone}/${t.factory}` }
          return
        }
        if (!reg.machineByKey(ctx.machineKey!)) {
          return { reason: 'unknown_machine', message: `machine ${t.zone}/${t.factory}/${t.line}/${t.machine} is not in the registry` }
        }
      },
    },
    {
      name: 'check-size',
      run(ctx) {
        const n = ctx.inbound.payload.length
        if (n === 0) return { reason: 'empty_payload', message: 'payload is empty' }
        if (n > limits.maxPayloadBytes) return { reason: 'payload_too_large', message: `payload of ${n} bytes exceeds ${limits.maxPayloadBytes}` }
      },
    },
  ]

  const reference: Step[] = [
    {
      name: 'decode',
      run(ctx) {
        try {
          ctx.decoded = types[ctx.topic!.kind].decode(ctx.inbound.payload)
        } catch (err) {
          return { reason: 'decode_error', message: `not a valid ${types[ctx.topic!.kind].fullName.slice(1)} protobuf message: ${(err as Error).message}` }
        }
      },
    },
    {
      name: 'validate',
      run(ctx) {
        const result = validate(ctx.topic!.kind, ctx.decoded, ctx.nowMs)
        if (!result.ok) return result.failure
        ctx.message = result.message
      },
    },
    {
      name: 'map-to-points',
      run(ctx) {
        const t = ctx.topic!
        ctx.lines = toLines(t, ctx.message!, trackers)
        if (ctx.machineKey !== undefined) trackers.live.seen(ctx.machineKey, ctx.nowMs)
      },
    },
  ]

  const FAST_PATH = 'fast-path'
  /** The telemetry fast path: writes the lines of a message it fully understands to `sink`; false when it declined (the reference path decides). */
  function fastPath(ctx: Context, sink: LineSink): boolean {
    const t = ctx.topic!
    if (!fastTelemetry || t.kind !== 'telemetry' || t.scope !== 'machine') return false
    const written = fastTelemetry(t, ctx.inbound.topic, ctx.inbound.payload, ctx.nowMs, sink) > 0
    if (written) trackers.live.seen(ctx.machineKey!, ctx.nowMs)
    return written
  }
  /** Where the fast path writes when the caller gave no sink, and where an accepted message's lines are written again when read; read back at once. */
  const scratch = new LineSink(4096)
  /** The fast path's lines for a message it accepted, written again: it reads only its arguments, so they are the same lines. */
  function fastLines(t: MachineTopic, inbound: InboundMessage, nowMs: number): readonly string[] {
    if (fastTelemetry!(t, inbound.topic, inbound.payload, nowMs, scratch) <= 0) {
      scratch.rewind(0, 0)
      throw new Error('the telemetry fast path declined a message it had accepted')
    }
    return scratchLines()
  }
  /** What the scratch sink holds, as lines; it is emptied. */
  function scratchLines(): string[] {
    const lines = scratch.view().toString('utf8').split('\n')
    scratch.rewind(0, 0)
    return lines
  }

  /** Runs `steps` in order; the first failure, or undefined when all passed. A step that throws rejects the message (internal_error). */
  function run(steps: readonly Step[], ctx: Context): StepResult {
    for (const step of steps) {
      let failure: StepResult
      try {
        failure = step.run(ctx)
      } catch (err) {
        // A bug in a step must not stop the stream: reject the message and say where.
        log.error({ err, step: step.name }, 'pipeline step failed')
        failure = { reason: 'internal_error', message: `step ${step.name} failed` }
      }
      if (failure) return failure
    }
    return undefined
  }

  const sampleDivergence = createLogSampler()
  /**
   * The reference path's reading of a message the fast path accepted. It runs inside the
   * listeners of accepted messages, long after the message was journaled: a disagreement is a
   * fast-path bug to count and report, never an exception (docs/delivery.md).
   */
  function referenceMessage(topic: string, kind: ParsedTopic['kind'], payload: Buffer, nowMs: number): DecodedMessage | undefined {
    let reason: string
    try {
      const result = validate(kind, types[kind].decode(payload), nowMs)
      if (result.ok) return result.message
      reason = result.failure.reason
    } catch {
      reason = 'decode_error'
    }
    metrics.fastPathDivergences.inc()
    const suppressedSinceLast = sampleDivergence('divergence')
    if (suppressedSinceLast !== undefined) log.error({ topic, reason, suppressedSinceLast }, 'the telemetry fast path accepted a message the reference path rejects; journaled as the fast path wrote it')
    return undefined
  }

  return {
    steps: { admission: admission.map((s) => s.name), fast: FAST_PATH, reference: reference.map((s) => s.name) },
    messageOf: referenceMessage,
    ingest(inbound, sink) {
      const ctx: Context = { inbound, nowMs: inbound.receivedMs ?? now() }
      const refused = run(admission, ctx)
      if (refused) return { ok: false, reason: refused.reason, message: refused.message, topic: ctx.topic }
      const into = sink ?? scratch
      const startPos = into.length
      const startLines = into.lines
      let fast = false
      try {
        fast = fastPath(ctx, into)
      } catch (err) {
        into.rewind(startPos, startLines)
        log.error({ err, step: FAST_PATH }, 'pipeline step failed; the reference path decides')
      }
      if (!fast) {
        const failure = run(reference, ctx)
        if (failure) return { ok: false, reason: failure.reason, message: failure.message, topic: ctx.topic }
        if (sink) for (const l of ctx.lines!) sink.line(l)
        return { ok: true, accepted: { topic: ctx.topic!, gatewayId: inbound.gatewayId, message: ctx.message!, lines: ctx.lines! } }
      }
      // Written to the scratch sink: read now, before the next message writes there.
      return { ok: true, accepted: new FastAccepted(ctx.topic as MachineTopic, inbound, ctx.nowMs, fastLines, referenceMessage, sink ? undefined : scratchLines()) }
    },
  }
}

/**
 * A message the fast path accepted. Its lines are written again by the fast path and its decoded
 * message (for live streams) is built by the reference path, with the same clock, each only when
 * read (listeners of telemetry seldom read either; a stream client reads the message): one
 * object per message, where a literal with getters cost a closure per field and their context,
 * the largest share of the processing path's garbage (docs/decisions.md, "Line protocol as bytes").
 */
class FastAccepted implements AcceptedMessage {
  readonly gatewayId: string
  private decoded: DecodedMessage | undefined
  private read = false

  constructor(
    readonly topic: MachineTopic,
    private readonly inbound: InboundMessage,
    private readonly nowMs: number,
    private readonly linesOf: (topic: MachineTopic, inbound: InboundMessage, nowMs: number) => readonly string[],
    private readonly reference: (topic: string, kind: ParsedTopic['kind'], payload: Buffer, nowMs: number) => DecodedMessage | undefined,
    private text?: readonly string[],
  ) {
    this.gatewayId = inbound.gatewayId
  }

  get lines(): readonly string[] {
    return (this.text ??= this.linesOf(this.topic, this.inbound, this.nowMs))
  }

  get message(): DecodedMessage | undefined {
    if (!this.read) {
      this.read = true
      this.decoded = this.reference(this.inbound.topic, this.topic.kind, this.inbound.payload, this.nowMs)
    }
    return this.decoded
  }
}
