import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createMetrics, total } from '../../src/metrics/metrics.js'
import { createIngestor } from '../../src/pipeline/ingestor.js'
import { decodeFrames, encodeFrame } from '../../src/spool/message-frame.js'
import type { MessageLog } from '../../src/storage/ports.js'

const log = pino({ level: 'silent' })
const T = 'iiot/v1/za/fa/l1/m1/telemetry'
const noProcessor = { onAccepted: () => () => undefined }

/** A journal whose appends resolve only when the test says so. */
class ControlledLog implements MessageLog {
  readonly frames: Buffer[] = []
  private readonly waiting: { resolve: () => void; reject: (err: Error) => void }[] = []
  full = false
  appendFrame(frame: Buffer): Promise<void> {
    this.frames.push(frame)
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }
  appendMessage(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer): Promise<void> {
    return this.appendFrame(encodeFrame(topic, gatewayId, qos, receivedMs, payload))
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

const settledSoon = async (p: Promise<void> | undefined) => {
  let settled = false
  void p?.then(() => (settled = true), () => (settled = true))
  await new Promise((r) => setImmediate(r))
  return settled
}

describe('ingestor: the acknowledgement path', () => {
  it('journals the message as received and resolves when that is durable; nothing is decoded first, even a bad payload', async () => {
    const journal = new ControlledLog()
    const ingestor = createIngestor({ journal, processor: noProcessor, metrics: createMetrics(), log })
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])
    const durable = ingestor.handle({ topic: T, payload: garbage, gatewayId: 'gw-a', receivedMs: 1_700_000_000_123 }, 1)
    expect(await settledSoon(durable)).toBe(false)
    const [frame] = decodeFrames(Buffer.concat(journal.frames))
    expect(frame).toMatchObject({ topic: T, gatewayId: 'gw-a', qos: 1, receivedMs: 1_700_000_000_123 })
    expect(frame!.payload.equals(garbage)).toBe(true)
    journal.resolveAll()
    await expect(durable).resolves.toBeUndefined()
  })

  it('a failed append fails the publish (the broker closes the connection and the gateway resends)', async () => {
    const journal = new ControlledLog()
    const ingestor = createIngestor({ journal, processor: noProcessor, metrics: createMetrics(), log })
    const durable = ingestor.handle({ topic: T, payload: Buffer.from([1]), gatewayId: 'gw-a' }, 1)
    journal.rejectAll(new Error('EIO'))
    await expect(durable).rejects.toThrow('EIO')
  })

  it('drops and counts QoS 0 when the journal is full', async () => {
    const journal = new ControlledLog()
    const metrics = createMetrics()
    const ingestor = createIngestor({ journal, processor: noProcessor, metrics, log })
    journal.full = true
    expect(ingestor.handle({ topic: T, payload: Buffer.from([1]), gatewayId: 'gw-a' }, 0)).toBeUndefined()
    expect(await total(metrics.qos0Dropped)).toBe(1)
    expect(journal.frames).toHaveLength(0)
  })
})
