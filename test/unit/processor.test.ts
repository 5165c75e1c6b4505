import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LiveHub } from '../../src/api/live-hub.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { byLabel, createMetrics, total, type Metrics } from '../../src/metrics/metrics.js'
import { createPipeline, type AcceptedMessage, type Pipeline } from '../../src/pipeline/pipeline.js'
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

async function realPipeline(metrics: Metrics, opts: { referenceRejectsTelemetry?: boolean } = {}): Promise<Pipeline> {
  const reg = Registry.fromJson(await testRegistry())
  const validate = createValidator(limits)
  return createPipeline({
    registry: { current: () => reg },
    types,
    // A validator that refuses every telemetry message stands for a reference path that disagrees with the fast path.
    validate: opts.referenceRejectsTelemetry ? (kind, decoded, nowMs) => (kind === 'telemetry' ? { ok: false, failure: { reason: 'invalid_payload', message: 'the reference path disagrees' } } : validate(kind, decoded, nowMs)) : validate,
    metrics,
    limits,
    live: new LiveStateTable(),
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

async function setup(opts: { referenceRejectsTelemetry?: boolean; replayBelowSeq?: number } = {}): Promise<{ processor: Processor; metrics: Metrics }> {
  const metrics = createMetrics()
  const keeper = new RejectionKeeper(store, { metrics, log })
  return { processor: createProcessor({ pipeline: await realPipeline(metrics, opts), rejections: store, replayBelowSeq: opts.replayBelowSeq ?? 1, keeper, metrics, log }), metrics }
}

/** The messages journaled as the acknowledgement path does, read back as the drainer does. */
async function journaled(payloads: Buffer[]): Promise<RecordBatch> {
  const journal = new MemoryJournal(1 << 20)
  for (const p of payloads) await journal.appendFrame(encodeFrame(T, 'gw-a', 1, Date.now(), p), 1)
  return (await journal.read(1_000))!
}

describe('processor: the processing path, from the journal', () => {
  it('decodes in journal order: lines for storage, listeners called, accepted counted', async () => {
    const { processor, metrics } = await setup()
    const seen: number[] = []
    processor.onAccepted((a) => void seen.push(a.message!.seq), 'order')
    const out = processor.process(await journaled([telemetry(1), telemetry(2), telemetry(3)]))
    await out.kept
    expect(seen).toEqual([1, 2, 3])
    expect(out.lineCount).toBe(3)
    expect(out.text.split('\n')).toHaveLength(3)
    expect(out.text).toMatch(/^telemetry,/)
    expect(await total(metrics.accepted)).toBe(3)
  })

  it('a listener that throws is counted and logged; the others still hear, the lines are still stored', async () => {
    const { processor, metrics } = await setup()
    const seen: AcceptedMessage[] = []
    processor.onAccepted(() => {
      throw new Error('listener bug')
    }, 'broken')
    processor.onAccepted((a) => void seen.push(a), 'healthy')
    const out = processor.process(await journaled([telemetry(1)]))
    expect(out.lineCount).toBe(1)
    expect(seen).toHaveLength(1)
    expect(await byLabel(metrics.listenerErrors, 'listener')).toEqual({ broken: 1 })
  })

  it('keeps a rejection with its reason and journal position, once: decoding the same batch again (after a crash) keeps nothing new', async () => {
    // As after a restart: every record of the batch was appended before this process started.
    const { processor, metrics } = await setup({ replayBelowSeq: Number.MAX_SAFE_INTEGER })
    let calls = 0
    processor.onAccepted(() => void calls++, 'counting')
    const batch = await journaled([telemetry(1), GARBAGE])
    const first = processor.process(batch)
    await first.kept
    expect(first.lineCount).toBe(1)
    const kept = store.list({ limit: 10 })
    expect(kept.map((r) => [r.reason, r.gateway, r.source])).toEqual([['decode_error', 'gw-a', { seq: batch.records[1]!.seq, index: 0 }]])
    expect(await byLabel(metrics.rejected, 'reason')).toEqual({ decode_error: 1 })
    await processor.process(batch).kept
    expect(store.list({ limit: 10 })).toHaveLength(1)
    expect(calls).toBe(2)
  })

  it('records appended in this run are never taken for replays (an in-memory journal numbers from 1 again after a restart)', async () => {
    const { processor } = await setup({ replayBelowSeq: 1 })
    const batch = await journaled([GARBAGE])
    await processor.process(batch).kept
    await processor.process(await journaled([GARBAGE])).kept
    expect(batch.records[0]!.seq).toBe(1)
    expect(store.list({ limit: 10 })).toHaveLength(2)
  })

  it('a message the fast path accepts and the reference path rejects is stored; its live event carries the lines; the divergence is counted', async () => {
    const { processor, metrics } = await setup({ referenceRejectsTelemetry: true })
    const hub = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10 })
    const client = fakeLiveClient()
    hub.add(client, undefined)
    processor.onAccepted((a) => hub.publish(a), 'live-hub')
    const out = processor.process(await journaled([telemetry(7)]))
    expect(out.lineCount).toBe(1)
    expect(await total(metrics.fastPathDivergences)).toBe(1)
    expect(await total(metrics.listenerErrors)).toBe(0)
    const data = JSON.parse(client.res.chunks.at(-1)!.split('data: ')[1]!)
    expect(data).toMatchObject({ zone: 'za', machine: 'm1', kind: 'telemetry', gateway: 'gw-a', lines: [out.text] })
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
