import type { MachineTopic } from '../../src/domain/topic.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { CounterTracker } from '../../src/pipeline/counter-tracker.js'
import { createTelemetryFastPath } from '../../src/pipeline/telemetry-fast-path.js'
import { toLines } from '../../src/pipeline/to-lines.js'
import { LineSink } from '../../src/pipeline/line-sink.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { types } from './gateway.js'

/**
 * The two telemetry paths side by side, for the differential tests: the fast
 * path, and the reference path (protobufjs decode → zod → toLines), which is
 * the specification.
 */
export const NOW = 1_800_000_000_000
export const limits = { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, maxBatch: 20, maxStringLength: 32 }
export const topic: MachineTopic = { scope: 'machine', zone: 'z1', factory: 'f-1', line: 'line-1', machine: 'm.7', kind: 'telemetry' }
export const TOPIC_KEY = 'iiot/v1/z1/f-1/line-1/m.7/telemetry'

const validate = createValidator(limits, () => NOW)
/** The one fast path the helpers share (its caches are per machine, as in the service). */
export const fastPath = createTelemetryFastPath(limits, types.telemetry)!

/** The fast path's lines for one message, written after a line already in the sink (as in a part of a batch); undefined when it declined. */
export function fast(payload: Buffer, nowMs = NOW): string[] | undefined {
  const sink = new LineSink(16)
  sink.line('before')
  const n = fastPath(topic, TOPIC_KEY, payload, nowMs, sink)
  const text = sink.view().toString('utf8')
  if (n < 0) {
    // A decline takes back everything it wrote.
    if (text !== 'before' || sink.lines !== 1) throw new Error(`the fast path declined but left ${JSON.stringify(text)} in the sink`)
    return undefined
  }
  const lines = text.split('\n')
  if (lines[0] !== 'before' || lines.length !== n + 1 || sink.lines !== n + 1) throw new Error(`the fast path said ${n} lines but wrote ${JSON.stringify(text)}`)
  return lines.slice(1)
}

export type Reference = { ok: true; lines: string[] } | { ok: false; why: string }

export function reference(payload: Buffer, nowMs = NOW): Reference {
  let decoded: unknown
  try {
    decoded = types.telemetry.decode(payload)
  } catch (err) {
    return { ok: false, why: `decode: ${(err as Error).message}` }
  }
  let r: ReturnType<typeof validate>
  try {
    r = validate('telemetry', decoded, nowMs)
  } catch (err) {
    // The pipeline rejects a message whose step throws (a timestamp beyond Date's range did, in validate).
    return { ok: false, why: `validate threw: ${(err as Error).message}` }
  }
  if (!r.ok) return { ok: false, why: r.failure.reason }
  return { ok: true, lines: toLines(topic, r.message, { counters: new CounterTracker(), live: new LiveStateTable() }) }
}
