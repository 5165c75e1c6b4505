import { parentPort, workerData } from 'node:worker_threads'
import { pino } from 'pino'
import { LiveStateTable } from '../domain/live-state.js'
import type { MachineState } from '../domain/records.js'
import { Registry } from '../registry/registry.js'
import { decodeFrames } from '../spool/message-frame.js'
import type { DecodeJob, DecodeWorkerInit, DecodeWorkerMessage, PartResult, StateOp } from './decode-protocol.js'
import { gatewayPartition } from './decode-protocol.js'
import { decodePart } from './decode-part.js'
import { internedText, TEXTS_INTERNED } from './byte-keyed-cache.js'
import { createPipeline } from './pipeline.js'
import { messageTypes } from './proto-schema.js'
import { createValidator } from './validate.js'

/**
 * One decode worker (docs/architecture.md, "Processing path"): runs the pipeline on the messages
 * of its share of the gateways, in journal order, and reports what they became. Its live table
 * is a copy kept only to compute each state's "since" exactly as the main thread's table will,
 * which replays the operations reported here.
 */
class RecordingLiveTable extends LiveStateTable {
  seenOps = new Map<string, number>()
  stateOps: StateOp[] = []

  override seen(key: string, nowMs: number): void {
    super.seen(key, nowMs)
    const prev = this.seenOps.get(key)
    if (prev === undefined || nowMs > prev) this.seenOps.set(key, nowMs)
  }

  override applyState(key: string, change: { state: MachineState; reasonCode: string; alarmCodes: readonly string[]; tsMs: number }): number {
    this.stateOps.push([key, change.state, change.reasonCode, [...change.alarmCodes], change.tsMs])
    return super.applyState(key, change)
  }
}

const init = workerData as DecodeWorkerInit
const port = parentPort!
const log = pino({ level: init.logLevel, base: { component: 'decode-worker', worker: init.index } })
const live = new RecordingLiveTable()
for (const [key, known] of init.liveSeed) live.seed(key, known)
let registry = Registry.fromJson(init.registryFile)
const received = new Map<string, number>()
let divergences = 0
const pipeline = createPipeline({
  live,
  registry: { current: () => registry },
  types: messageTypes(),
  validate: createValidator(init.ingest),
  metrics: {
    received: { add: (n = 1, kind = '') => received.set(kind, (received.get(kind) ?? 0) + n) },
    fastPathDivergences: { inc: () => divergences++ },
  },
  limits: { ...init.ingest, maxPayloadBytes: init.maxPayloadBytes },
  fastPath: init.fastPath,
  log,
})

const text = internedText(TEXTS_INTERNED)

function run(job: DecodeJob): PartResult {
  const buf = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength)
  const framesOf = (r: number) => {
    const [start, end] = job.records[r]!
    try {
      return decodeFrames(buf.subarray(start, end), text)
    } catch {
      return undefined // the main thread splits the same record, and reports it
    }
  }
  const owns = job.workers > 1 ? (gatewayId: string) => gatewayPartition(gatewayId, job.workers) === init.index : () => true
  const part = decodePart(pipeline, job.records.length, framesOf, owns)
  const result: PartResult = { id: job.id, ...part, seen: [...live.seenOps], states: live.stateOps, received: Object.fromEntries(received), divergences }
  live.seenOps = new Map()
  live.stateOps = []
  received.clear()
  divergences = 0
  return result
}

port.on('message', (msg: DecodeWorkerMessage) => {
  if (msg.type === 'registry') {
    registry = Registry.fromJson(msg.file)
    return
  }
  const result = run(msg)
  // The body's memory is its own (LineSink.take): moved to the main thread, not copied.
  port.postMessage(result, result.body.length > 0 ? [result.body.buffer as ArrayBuffer] : [])
})
