import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LiveHub } from '../../src/api/live-hub.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { byLabel, createMetrics, total, type Metrics } from '../../src/metrics/metrics.js'
import { createPipeline, type AcceptedMessage, type Pipeline } from '../../src/pipeline/pipeline.js'
import { DecodePool } from '../../src/pipeline/decode-pool.js'
import { createProcessor, type Processor } from '../../src/pipeline/processor.js'
import { RejectionKeeper } from '../../src/pipeline/rejection-keeper.js'
import { RejectionStore } from '../../src/pipeline/rejection-store.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { Registry } from '../../src/registry/registry.js'
import type { RecordBatch } from '../../src/spool/journal.js'
import { MemoryJournal } from '../../src/spool/memory-journal.js'
import { encodeFrame } from '../../src/spool/message-frame.js'
import { testRegistry } from '../helpers/fixtures.js'
import { encode, types } from '../helpers/gateway.js'
import { fakeLiveClient } from '../helpers/live-client.js'

const log = pino({ level: 'silent' })
const T = 'iiot/v1/za/fa/l1/m1/telemetry'
const limits = { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, maxBatch: 100, maxStringLength: 256, maxPayloadBytes: 65_536 }
const GARBAGE = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])

async function realPipeline(metrics: Metrics, opts: { referenceRejectsTelemetry?: boolean; live?: LiveStateTable } = {}): Promise<Pipeline> {
  const reg = Registry.fromJson(await testRegistry())
  const validate = createValidator(limits)
  return createPipeline({
    registry: { current: () => reg },
    types,
    // A validator that refuses every telemetry message stands for a reference path that disagrees with the fast path.
    validate: opts.referenceRejectsTelemetry ? (kind, decoded, nowMs) => (kind === 'telemetry' ? { ok: false, failure: { reason: 'invalid_payload', message: 'the reference path disagrees' } } : validate(kind, decoded, nowMs)) : validate,
    metrics,
    limits,
    live: opts.live ?? new LiveStateTable(),
    log,
  })
}

const telemetry = (seq: number) => encode('telemetry', { seq, samples: [{ signal: 'temp', doubleValue: seq, tsMs: Date.now() - 1000 }] })

let dir: string
let store: RejectionStore
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iiot-processor-'))
  store = await RejectionStore.open(join(dir, 'rejections.jsonl'), { max: 100, payloadBytes: 64 }, log)
})
afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

const opened: Processor[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()))
})

interface SetupOptions {
  readonly referenceRejectsTelemetry?: boolean
  readonly replayBelowSeq?: number
  /** Decode workers (0: on this thread). */
  readonly workers?: number
  readonly live?: LiveStateTable
}

async function setup(opts: SetupOptions = {}): Promise<{ processor: Processor; metrics: Metrics; live: LiveStateTable; pool: DecodePool | undefined }> {
  const metrics = createMetrics()
  const keeper = new RejectionKeeper(store, { metrics, log })
  const live = opts.live ?? new LiveStateTable()
  const reg = Registry.fromJson(await testRegistry())
  const pool = opts.workers ? new DecodePool({ size: opts.workers, init: { ingest: limits, maxPayloadBytes: limits.maxPayloadBytes, fastPath: true, logLevel: 'silent' }, liveSeed: () => live.snapshot(), registry: { current: () => reg }, log }) : undefined
  const processor = createProcessor({ pipeline: await realPipeline(metrics, { ...opts, live }), pool, live, rejections: store, replayBelowSeq: opts.replayBelowSeq ?? 1, keeper, metrics, log })
  opened.push(processor)
  return { processor, metrics, live, pool }
}

/** The messages journaled as the acknowledgement path does, read back as the drainer does. */
async function journaled(payloads: Buffer[], gatewayOf: (i: number) => string = () => 'gw-a', topic = T): Promise<RecordBatch> {
  const journal = new MemoryJournal(1 << 24)
  for (let i = 0; i < payloads.length; i++) await journal.appendFrame(encodeFrame(topic, gatewayOf(i), 1, Date.now(), payloads[i]!), 1)
  return (await journal.read(100_000))!
}

describe.each([0, 1, 2])('processor with %i decode workers: the processing path, from the journal', (workers) => {
  it('decodes in journal order: lines for storage, listeners called, accepted counted', async () => {
    const { processor, metrics } = await setup({ workers })
    const seen: number[] = []
    processor.onAccepted((a) => void seen.push(a.message!.seq), 'order')
    const out = await processor.process(await journaled([telemetry(1), telemetry(2), telemetry(3)]))
    await out.kept
    expect(seen).toEqual([1, 2, 3])
    expect(out.lineCount).toBe(3)
    expect(out.body.toString().split('\n')).toHaveLength(3)
    expect(out.body.toString()).toMatch(/^telemetry,/)
    expect(await total(metrics.accepted)).toBe(3)
    expect(await total(metrics.received)).toBe(3)
  })

  it("gives listeners a message's own lines after its batch's body was released and its memory holds the next batch", async () => {
    const { processor } = await setup({ workers })
    const held: AcceptedMessage[] = []
    processor.onAccepted((a) => void held.push(a), 'hold')
    const first = await processor.process(await journaled([telemetry(1), telemetry(2), telemetry(3)]))
    const firstBody = first.body.toString()
    first.release()
    const second = await processor.process(await journaled([telemetry(700), telemetry(800), telemetry(900)]))
    // On this thread the second batch's body is written where the first one's was.
    if (workers === 0) expect(second.body.buffer).toBe(first.body.buffer)
    expect(held.slice(0, 3).flatMap((a) => a.lines).join('\n')).toBe(firstBody)
    expect(held.slice(3).flatMap((a) => a.lines).join('\n')).toBe(second.body.toString())
    expect(firstBody).toMatch(/ value=1,/)
  })

  it("keeps each gateway's messages in order across batches, and every machine's state and since in the table the API reads", async () => {
    const { processor, live } = await setup({ workers })
    const byGateway = new Map<string, number[]>()
    processor.onAccepted((a) => {
      const list = byGateway.get(a.gatewayId) ?? []
      list.push(a.message!.seq)
      byGateway.set(a.gatewayId, list)
    }, 'order')
    const gateways = 7
    const results = []
    for (let b = 0; b < 5; b++) {
      const payloads = Array.from({ length: 70 }, (_, i) => telemetry(b * 70 + i))
      results.push(processor.process(await journaled(payloads, (i) => `gw-${i % gateways}`)))
    }
    const outs = await Promise.all(results)
    expect(outs.reduce((n, o) => n + o.lineCount, 0)).toBe(350)
    for (let g = 0; g < gateways; g++) {
      const seqs = byGateway.get(`gw-${g}`)!
      expect(seqs).toHaveLength(50)
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
    }
    const t0 = Date.now() - 10_000
    const state = (code: number, tsMs: number) => encode('state', { seq: 1, changes: [{ state: code, reasonCode: '', tsMs }] })
    // The same state reported twice keeps its first "since" (computed on the worker, applied here).
    await processor.process(await journaled([state(2, t0), state(2, t0 + 1000)], () => 'gw-a', 'iiot/v1/za/fa/l1/m1/state'))
    expect(live.get('za/fa/l1/m1')).toMatchObject({ state: 'idle', sinceMs: t0, stateTsMs: t0 + 1000 })
    expect(live.get('za/fa/l1/m1')!.lastSeenMs).toBeGreaterThan(t0)
  })

  it('a listener that throws is counted and logged; the others still hear, the lines are still stored', async () => {
    const { processor, metrics } = await setup({ workers })
    const seen: AcceptedMessage[] = []
    processor.onAccepted(() => {
      throw new Error('listener bug')
    }, 'broken')
    processor.onAccepted((a) => void seen.push(a), 'healthy')
    const out = await processor.process(await journaled([telemetry(1)]))
    expect(out.lineCount).toBe(1)
    expect(seen).toHaveLength(1)
    expect(await byLabel(metrics.listenerErrors, 'listener')).toEqual({ broken: 1 })
  })

  it('keeps a rejection with its reason and journal position, once: decoding the same batch again (after a crash) keeps nothing new', async () => {
    // As after a restart: every record of the batch was appended before this process started.
    const { processor, metrics } = await setup({ replayBelowSeq: Number.MAX_SAFE_INTEGER, workers })
    let calls = 0
    processor.onAccepted(() => void calls++, 'counting')
    const batch = await journaled([telemetry(1), GARBAGE])
    const first = await processor.process(batch)
    await first.kept
    expect(first.lineCount).toBe(1)
    const kept = store.list({ limit: 10 })
    expect(kept.map((r) => [r.reason, r.gateway, r.source])).toEqual([['decode_error', 'gw-a', { seq: batch.records[1]!.seq, index: 0 }]])
    expect(await byLabel(metrics.rejected, 'reason')).toEqual({ decode_error: 1 })
    await (await processor.process(batch)).kept
    expect(store.list({ limit: 10 })).toHaveLength(1)
    expect(calls).toBe(2)
  })

  it('records appended in this run are never taken for replays (an in-memory journal numbers from 1 again after a restart)', async () => {
    const { processor } = await setup({ replayBelowSeq: 1, workers })
    const batch = await journaled([GARBAGE])
    await (await processor.process(batch)).kept
    await (await processor.process(await journaled([GARBAGE]))).kept
    expect(batch.records[0]!.seq).toBe(1)
    expect(store.list({ limit: 10 })).toHaveLength(2)
  })
})

describe('processor with decode workers: a worker lost', () => {
  it('a worker that stops with a batch unanswered: its share is decoded on the main thread, in order, and a new worker takes the next batch', async () => {
    const { processor, pool, metrics } = await setup({ workers: 2 })
    const seen: string[] = []
    processor.onAccepted((a) => void seen.push(`${a.gatewayId}:${a.message!.seq}`), 'order')
    const batch = await journaled(Array.from({ length: 40 }, (_, i) => telemetry(i)), (i) => `gw-${i % 4}`)
    const answer = processor.process(batch)
    // As a crash would: the worker's thread ends before it answers.
    await (pool as unknown as { slots: { worker: Worker }[] }).slots[0]!.worker.terminate()
    const out = await answer
    expect(out.lineCount).toBe(40)
    expect(seen).toHaveLength(40)
    const next = await processor.process(await journaled([telemetry(99)], () => 'gw-0'))
    expect(next.lineCount).toBe(1)
    expect(await total(metrics.accepted)).toBe(41)
  })
})

describe('processor: the processing path, from the journal', () => {
  it('a message the fast path accepts and the reference path rejects is stored; its live event carries the lines; the divergence is counted', async () => {
    const { processor, metrics } = await setup({ referenceRejectsTelemetry: true })
    const hub = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10 })
    const client = fakeLiveClient()
    hub.add(client, undefined)
    processor.onAccepted((a) => hub.publish(a), 'live-hub')
    const out = await processor.process(await journaled([telemetry(7)]))
    expect(out.lineCount).toBe(1)
    expect(await total(metrics.fastPathDivergences)).toBe(1)
    expect(await total(metrics.listenerErrors)).toBe(0)
    const data = JSON.parse(client.res.chunks.at(-1)!.split('data: ')[1]!)
    expect(data).toMatchObject({ zone: 'za', machine: 'm1', kind: 'telemetry', gateway: 'gw-a', lines: [out.body.toString()] })
    expect(data.message).toBeUndefined()
  })

  it('a counter report decoded again after a restart writes no delta that could overwrite the one it was stored with', async () => {
    const P = 'iiot/v1/za/fa/l1/m1/production'
    const report = (good: number, tsMs: number) => encode('production', { seq: 1, reports: [{ mode: 2, good, reject: 0, tsMs }] })
    const t = Date.now() - 5000
    const first = await realPipeline(createMetrics())
    first.ingest({ topic: P, payload: report(100, t), gatewayId: 'gw-a' })
    const stored = first.ingest({ topic: P, payload: report(130, t + 1000), gatewayId: 'gw-a' })
    expect(stored.ok && stored.accepted.lines[0]).toMatch(/ good=30i,.*counter_good=130i/)
    // A new process: no previous value in memory for this counter.
    const replayed = (await realPipeline(createMetrics())).ingest({ topic: P, payload: report(130, t + 1000), gatewayId: 'gw-a' })
    expect(replayed.ok && replayed.accepted.lines[0]).toMatch(/counter_good=130i/)
    expect(replayed.ok && replayed.accepted.lines[0]).not.toMatch(/[ ,]good=/)
  })

  it('the pipeline is two ordered lists of named steps around the fast path', async () => {
    const pipeline = await realPipeline(createMetrics())
    expect(pipeline.steps).toEqual({ admission: ['parse-topic', 'resolve-identity', 'check-size'], fast: 'fast-path', reference: ['decode', 'validate', 'map-to-points'] })
    // Declined by the fast path (a quality message is not telemetry), decided by the reference path.
    expect(pipeline.ingest({ topic: 'iiot/v1/za/fa/l1/m1/quality', payload: GARBAGE, gatewayId: 'gw-a' })).toMatchObject({ ok: false, reason: 'decode_error' })
  })

  it('reading the decoded message of a diverging fast-path message never throws', async () => {
    const metrics = createMetrics()
    const pipeline = await realPipeline(metrics, { referenceRejectsTelemetry: true })
    const outcome = pipeline.ingest({ topic: T, payload: telemetry(1), gatewayId: 'gw-a' })
    expect(outcome.ok).toBe(true)
    if (!outcome.ok) return
    expect(() => outcome.accepted.message).not.toThrow()
    expect(outcome.accepted.message).toBeUndefined()
    // Read twice, counted once.
    expect(await total(metrics.fastPathDivergences)).toBe(1)
  })
})
