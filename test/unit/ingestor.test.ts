import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { LiveHub } from '../../src/api/live-hub.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { createMetrics, total, byLabel, type Metrics } from '../../src/metrics/metrics.js'
import { createIngestor, type Ingestor } from '../../src/pipeline/ingestor.js'
import { createPipeline, type AcceptedMessage, type Pipeline } from '../../src/pipeline/pipeline.js'
import type { RejectionInput, RejectionStore } from '../../src/pipeline/rejection-store.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { Registry } from '../../src/registry/registry.js'
import type { PointSink } from '../../src/storage/ports.js'
import { testRegistry } from '../helpers/fixtures.js'
import { encode, types } from '../helpers/gateway.js'
import { fakeLiveClient } from '../helpers/live-client.js'

const log = pino({ level: 'silent' })
const T = 'iiot/v1/za/fa/l1/m1/telemetry'
const limits = { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, maxBatch: 100, maxStringLength: 256, maxPayloadBytes: 65_536 }

/** A sink whose appends resolve only when the test says so. */
class ControlledSink implements PointSink {
  readonly appended: (readonly string[])[] = []
  private readonly waiting: { resolve: () => void; reject: (err: Error) => void }[] = []
  full = false
  append(lines: readonly string[]): Promise<void> {
    this.appended.push(lines)
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }
  waitForRoom(): Promise<void> {
    return Promise.resolve()
  }
  resolveAll(): void {
    for (const w of this.waiting.splice(0)) w.resolve()
  }
  rejectAll(err: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(err)
  }
}

/** A sink whose appends are durable at once. */
class ImmediateSink implements PointSink {
  readonly appended: (readonly string[])[] = []
  full = false
  append(lines: readonly string[]): Promise<void> {
    this.appended.push(lines)
    return Promise.resolve()
  }
  waitForRoom(): Promise<void> {
    return Promise.resolve()
  }
}

function fakeRejections(): RejectionStore & { added: RejectionInput[] } {
  const added: RejectionInput[] = []
  return { added, add: async (r: RejectionInput) => void added.push(r) } as unknown as RejectionStore & { added: RejectionInput[] }
}

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

async function setup(sink: PointSink, opts: { referenceRejectsTelemetry?: boolean } = {}): Promise<{ ingestor: Ingestor; metrics: Metrics; rejections: ReturnType<typeof fakeRejections> }> {
  const metrics = createMetrics()
  const rejections = fakeRejections()
  const ingestor = createIngestor({ pipeline: await realPipeline(metrics, opts), sink, rejections, metrics, log })
  return { ingestor, metrics, rejections }
}

const flush = () => new Promise((r) => setImmediate(r))

describe('ingestor: accepted-message listeners', () => {
  it('a listener that throws does not reach the publisher: the publish resolves durable, the message is journaled once, the error is counted', async () => {
    const sink = new ImmediateSink()
    const { ingestor, metrics } = await setup(sink)
    const seen: AcceptedMessage[] = []
    ingestor.onAccepted(() => {
      throw new Error('listener bug')
    }, 'broken')
    ingestor.onAccepted((a) => void seen.push(a), 'healthy')

    let durable: Promise<void> | undefined
    expect(() => (durable = ingestor.handle({ topic: T, payload: telemetry(1), gatewayId: 'gw-a' }, 1))).not.toThrow()
    await expect(durable).resolves.toBeUndefined()
    expect(sink.appended).toHaveLength(1)
    // The other listener still hears about it.
    expect(seen).toHaveLength(1)
    expect(await byLabel(metrics.listenerErrors, 'listener')).toEqual({ broken: 1 })
    expect(await byLabel(metrics.accepted, 'kind')).toEqual({ telemetry: 1 })
  })

  it('calls no listener and counts nothing accepted before the append is durable', async () => {
    const sink = new ControlledSink()
    const { ingestor, metrics } = await setup(sink)
    const seen: number[] = []
    ingestor.onAccepted((a) => void seen.push(a.message!.seq), 'order')

    const durable = [1, 2, 3].map((seq) => ingestor.handle({ topic: T, payload: telemetry(seq), gatewayId: 'gw-a' }, 1))
    await flush()
    expect(sink.appended).toHaveLength(3)
    expect(seen).toEqual([])
    expect(await total(metrics.accepted)).toBe(0)
    expect(await total(metrics.pointsQueued)).toBe(0)

    sink.resolveAll()
    await Promise.all(durable)
    expect(seen).toEqual([1, 2, 3])
    expect(await total(metrics.accepted)).toBe(3)
    expect(await total(metrics.pointsQueued)).toBe(3)
  })

  it('a failed append calls no listener and counts nothing accepted (the gateway resends)', async () => {
    const sink = new ControlledSink()
    const { ingestor, metrics } = await setup(sink)
    let calls = 0
    ingestor.onAccepted(() => void calls++, 'counting')
    const durable = ingestor.handle({ topic: T, payload: telemetry(1), gatewayId: 'gw-a' }, 1)
    await flush()
    sink.rejectAll(new Error('EIO'))
    await expect(durable).rejects.toThrow('EIO')
    await flush()
    expect(calls).toBe(0)
    expect(await total(metrics.accepted)).toBe(0)
  })

  it('a rejection is counted once it is recorded, and reaches no listener', async () => {
    const sink = new ImmediateSink()
    const { ingestor, metrics, rejections } = await setup(sink)
    let calls = 0
    ingestor.onAccepted(() => void calls++, 'counting')
    await ingestor.handle({ topic: T, payload: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), gatewayId: 'gw-a' }, 1)
    expect(rejections.added.map((r) => r.reason)).toEqual(['decode_error'])
    expect(await byLabel(metrics.rejected, 'reason')).toEqual({ decode_error: 1 })
    expect(calls).toBe(0)
    expect(sink.appended).toHaveLength(0)
  })
})

describe('fast-path divergence', () => {
  it('a message the fast path accepts and the reference path rejects is journaled; its live event carries the lines; the divergence is counted', async () => {
    const sink = new ImmediateSink()
    const { ingestor, metrics } = await setup(sink, { referenceRejectsTelemetry: true })
    const hub = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10 })
    const client = fakeLiveClient()
    hub.add(client, undefined)
    ingestor.onAccepted((a) => hub.publish(a), 'live-hub')

    await ingestor.handle({ topic: T, payload: telemetry(7), gatewayId: 'gw-a' }, 1)
    expect(sink.appended).toHaveLength(1)
    expect(await total(metrics.fastPathDivergences)).toBe(1)
    expect(await total(metrics.listenerErrors)).toBe(0)
    const data = JSON.parse(client.res.chunks.at(-1)!.split('data: ')[1]!)
    expect(data).toMatchObject({ zone: 'za', machine: 'm1', kind: 'telemetry', gateway: 'gw-a', lines: sink.appended[0] })
    expect(data.message).toBeUndefined()
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
