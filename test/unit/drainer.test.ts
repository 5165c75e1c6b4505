import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/metrics/metrics.js'
import { Drainer } from '../../src/spool/drainer.js'
import type { RecordBatch } from '../../src/spool/journal.js'
import { MemoryJournal } from '../../src/spool/memory-journal.js'
import { StorageError, type LineWriter } from '../../src/storage/ports.js'

const log = pino({ level: 'silent' })
const opts = { batchSize: 100, lingerMs: 0, maxInFlight: 2, retryBaseMs: 5, retryMaxMs: 20 }

/** A storage stand-in for the drainer's logic: fails on demand, refuses lines containing "BAD". */
function fakeStorage() {
  const stored = new Set<string>()
  let outage = 0
  const writer: LineWriter & { requests: number; down(n: number): void } = {
    requests: 0,
    down(n) {
      outage = n
    },
    async write(body) {
      writer.requests++
      if (outage > 0) {
        outage--
        throw new StorageError('connect ECONNREFUSED', true, undefined)
      }
      const lines = body.toString('utf8').split('\n')
      if (lines.some((l) => l.includes('BAD'))) {
        // Like InfluxDB 1.x: a partial write stores the good lines and answers 400.
        for (const l of lines) if (!l.includes('BAD')) stored.add(l)
        throw new StorageError('InfluxDB answered 400: partial write: field type conflict', false, 400)
      }
      for (const l of lines) stored.add(l)
    },
  }
  return { writer, stored }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('drainer', () => {
  it('retries through an outage and advances the checkpoint only after success', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer, stored } = fakeStorage()
    writer.down(5)
    const drainer = new Drainer(journal, writer, opts, { metrics: createMetrics(), log, onRefusedLine: () => undefined })
    drainer.start()
    for (let i = 0; i < 50; i++) await journal.append([`m v=${i} ${i}`])
    await until(() => journal.stats().unwrittenRecords === 0)
    expect(stored.size).toBe(50)
    expect(journal.stats().checkpointSeq).toBe(50)
    expect(writer.requests).toBeGreaterThan(5)
    await drainer.stop(100)
  })

  it('isolates the one bad point of a refused batch and writes the rest', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer, stored } = fakeStorage()
    const refused: string[] = []
    const drainer = new Drainer(journal, writer, opts, { metrics: createMetrics(), log, onRefusedLine: (l, m) => void refused.push(`${l} | ${m}`) })
    const lines = Array.from({ length: 40 }, (_, i) => (i === 17 ? `m v="BAD" ${i}` : `m v=${i} ${i}`))
    for (let i = 0; i < 40; i += 4) await journal.append(lines.slice(i, i + 4))
    drainer.start()
    await until(() => journal.stats().unwrittenRecords === 0)
    expect(refused).toEqual(['m v="BAD" 17 | InfluxDB answered 400: partial write: field type conflict'])
    expect(stored.size).toBe(39)
    await drainer.stop(100)
  })

  it('on stop during an outage, gives up after the timeout and leaves the data in the journal', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer } = fakeStorage()
    writer.down(1_000_000)
    const drainer = new Drainer(journal, writer, opts, { metrics: createMetrics(), log, onRefusedLine: () => undefined })
    drainer.start()
    await journal.append(['m v=1 1'])
    await until(() => writer.requests > 2)
    const t0 = Date.now()
    await drainer.stop(100)
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(journal.stats()).toMatchObject({ unwrittenRecords: 1, checkpointSeq: 0 })
  })
})

describe('drainer: refused points', () => {
  it('a batch with a refused point is complete only once the refusal is kept', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer, stored } = fakeStorage()
    let keep: () => void = () => undefined
    const kept = new Promise<void>((resolve) => (keep = resolve))
    const drainer = new Drainer(journal, writer, opts, { metrics: createMetrics(), log, onRefusedLine: () => kept })
    await journal.append(['m v=1 1', 'm v="BAD" 2', 'm v=3 3'])
    drainer.start()
    await until(() => stored.size === 2)
    await new Promise((r) => setTimeout(r, 50))
    // Written, but its refusal is not kept yet: the journal still holds the batch.
    expect(journal.stats().unwrittenRecords).toBe(1)
    keep()
    await until(() => journal.stats().unwrittenRecords === 0)
    await drainer.stop(100)
  })
})

describe('drainer batching', () => {
  it('lingers to fill a batch: many small messages leave in few requests', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer, stored } = fakeStorage()
    const drainer = new Drainer(journal, writer, { ...opts, lingerMs: 200 }, { metrics: createMetrics(), log, onRefusedLine: () => undefined })
    drainer.start()
    for (let i = 0; i < 60; i++) {
      await journal.append([`m v=${i} ${i}`])
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await until(() => journal.stats().unwrittenRecords === 0)
    expect(stored.size).toBe(60)
    expect(writer.requests).toBeLessThanOrEqual(3)
    await drainer.stop(100)
  })
})

describe('drainer: requests never over the batch size', () => {
  it('a read that would overfill a request starts the next one; a record larger than a request goes as several, in order', async () => {
    const journal = new MemoryJournal(1 << 20)
    const sizes: number[] = []
    const stored: string[] = []
    let refusals = 0
    // Like the InfluxDB writer: a request over the batch size is refused as bad data.
    const writer: LineWriter = {
      async write(body, lineCount) {
        const lines = body.toString('utf8').split('\n')
        expect(lines).toHaveLength(lineCount)
        if (lineCount > 100) {
          refusals++
          throw new StorageError(`batch of ${lineCount} lines exceeds 100`, false, undefined)
        }
        sizes.push(lineCount)
        stored.push(...lines)
      },
    }
    let n = 0
    const record = (count: number) => Array.from({ length: count }, () => `m v=${n} ${n++}`)
    for (const count of [60, 60, 60, 250, 30, 99, 1]) await journal.append(record(count))
    const drainer = new Drainer(journal, writer, { ...opts, maxInFlight: 1, lingerMs: 0 }, { metrics: createMetrics(), log, onRefusedLine: () => undefined })
    drainer.start()
    await until(() => journal.stats().unwrittenRecords === 0)
    await drainer.stop(100)
    // Before, a request carried whatever the reads held (120, 250 lines...), was refused, and split as if it were bad data.
    expect(refusals).toBe(0)
    for (const size of sizes) expect(size).toBeLessThanOrEqual(100)
    expect(stored).toEqual(Array.from({ length: n }, (_, i) => `m v=${i} ${i}`))
  })
})

describe('drainer: a flood of rejected messages', () => {
  it('sends a group once it spans MAX_GROUP_BYTES of journal, even when it holds no line (found in review: it read on while data kept coming)', async () => {
    const journal = new MemoryJournal(1 << 30)
    const { writer } = fakeStorage()
    const big = Buffer.alloc(4 * 1024 * 1024)
    let processed = 0
    let processedAtFirstCompletion: number | undefined
    const drainer = new Drainer(journal, writer, { ...opts, lingerMs: 60_000 }, {
      metrics: createMetrics(),
      log,
      onRefusedLine: () => undefined,
      process: () => {
        // Every message is rejected, and another arrives meanwhile: an endless stream of nothing to write.
        processed++
        if (processed < 50) void journal.appendFrame(big, 1)
        return { body: Buffer.alloc(0), lineCount: 0, kept: Promise.resolve() }
      },
    })
    const complete = journal.complete.bind(journal)
    journal.complete = (batch) => {
      processedAtFirstCompletion ??= processed
      complete(batch)
    }
    await journal.appendFrame(big, 1)
    drainer.start()
    await until(() => processed >= 50 && journal.stats().unwrittenRecords === 0, 10_000)
    // Two groups may be in flight (maxInFlight), each of two 4 MiB reads: far from the 50 that kept coming.
    expect(processedAtFirstCompletion).toBeLessThanOrEqual(8)
    expect(writer.requests).toBe(0)
    await drainer.stop(100)
  })
})

describe('drainer: waits that stop() cuts short', () => {
  it('leaves nothing registered once each wait is over (no reaction per request kept for the life of the process)', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer, stored } = fakeStorage()
    const drainer = new Drainer(journal, writer, { ...opts, lingerMs: 1 }, { metrics: createMetrics(), log, onRefusedLine: () => undefined })
    drainer.start()
    for (let i = 0; i < 200; i++) {
      await journal.append([`m v=${i} ${i}`])
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 3))
    }
    await until(() => stored.size === 200)
    // Only the loop's own idle wait may be pending now.
    expect((drainer as unknown as { stopWaiters: Set<unknown> }).stopWaiters.size).toBeLessThanOrEqual(1)
    await drainer.stop(100)
    expect((drainer as unknown as { stopWaiters: Set<unknown> }).stopWaiters.size).toBe(0)
  })

  it('sizes requests by what decoded batches turn out to hold when decoding answers later (decode workers)', async () => {
    const journal = new MemoryJournal(1 << 24)
    const sizes: number[] = []
    const writer: LineWriter = {
      async write(body) {
        sizes.push(body.toString('utf8').split('\n').length)
      },
    }
    const reads: number[] = []
    // Each record is estimated at 1 point and holds 10: a request sized by the estimate alone would carry 10 times too many.
    const process = async (batch: RecordBatch) => {
      reads.push(batch.records.length)
      await new Promise((r) => setTimeout(r, 1))
      const lines = batch.records.flatMap((r) => Array.from({ length: 10 }, (_, i) => `m v=${i} ${r.seq * 10 + i}`))
      return { body: Buffer.from(lines.join('\n')), lineCount: lines.length, kept: Promise.resolve() }
    }
    for (let i = 0; i < 3000; i++) await journal.appendFrame(Buffer.from([i & 0xff]), 1)
    const drainer = new Drainer(journal, writer, { ...opts, batchSize: 500, maxInFlight: 1 }, { metrics: createMetrics(), log, onRefusedLine: () => undefined, process })
    drainer.start()
    await until(() => journal.stats().unwrittenRecords === 0)
    await drainer.stop(100)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30_000)
    // The first read trusts the estimate (500 records, 5,000 points: sent as ten requests of 500, never one over the
    // batch size); the later reads learned the real ratio and ask for about a tenth.
    expect(reads[0]).toBe(500)
    expect(sizes.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 500))
    for (const n of reads.slice(-3)) expect(n).toBeLessThanOrEqual(100)
    for (const n of sizes) expect(n).toBeLessThanOrEqual(500)
  })
})

describe('drainer: memory of batches used again', () => {
  it('releases each batch once, and never while the writer still reads its body', async () => {
    const journal = new MemoryJournal(1 << 20)
    const reading = new Set<ArrayBufferLike>()
    const stored: string[] = []
    const writer: LineWriter = {
      async write(body) {
        reading.add(body.buffer)
        await new Promise((r) => setTimeout(r, 2))
        stored.push(...body.toString('utf8').split('\n'))
        reading.delete(body.buffer)
      },
    }
    const released = new Map<number, number>()
    let early = 0
    let processed = 0
    const drainer = new Drainer(journal, writer, { ...opts, lingerMs: 20 }, {
      metrics: createMetrics(),
      log,
      onRefusedLine: () => undefined,
      process: (batch) => {
        const id = processed++
        // Its own memory, as the processor's bodies are.
        const body = Buffer.from(batch.records.map((r) => r.payload.toString('utf8')).join('\n'))
        return {
          body,
          lineCount: batch.lineCount,
          kept: Promise.resolve(),
          release: () => {
            if (reading.has(body.buffer)) early++
            released.set(id, (released.get(id) ?? 0) + 1)
            // As the next batch written into this memory would.
            body.fill('X')
          },
        }
      },
    })
    drainer.start()
    // Some records arrive while a request lingers (joined bodies), some alone (a body sent as it is).
    for (let i = 0; i < 300; i++) {
      await journal.append([`m v=${i} ${i}`])
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, i % 2 ? 1 : 25))
    }
    await until(() => journal.stats().unwrittenRecords === 0)
    await drainer.stop(100)
    expect(stored.sort()).toEqual(Array.from({ length: 300 }, (_, i) => `m v=${i} ${i}`).sort())
    expect(early).toBe(0)
    expect(released.size).toBe(processed)
    expect([...released.values()].every((n) => n === 1)).toBe(true)
  })
})

describe('drainer back-off when storage comes back', () => {
  it('tries again within a second of storage answering, not at the end of a long back-off', async () => {
    const journal = new MemoryJournal(1 << 20)
    const { writer, stored } = fakeStorage()
    let up = false
    let failures = 0
    const inner = writer.write
    writer.write = async (body, n) => {
      if (!up) {
        failures++
        throw new StorageError('connect ECONNREFUSED', true, undefined)
      }
      return inner(body, n)
    }
    // The back-off reaches 30 s after a few failures.
    const drainer = new Drainer(journal, writer, { ...opts, retryBaseMs: 2_000, retryMaxMs: 30_000, maxInFlight: 1 }, { metrics: createMetrics(), log, onRefusedLine: () => undefined, reachable: async () => up })
    drainer.start()
    await journal.append(['m v=1 1'])
    await until(() => failures >= 2, 10_000)
    up = true
    const t0 = Date.now()
    await until(() => stored.size === 1, 5_000)
    expect(Date.now() - t0).toBeLessThan(2_500)
    await drainer.stop(100)
  }, 20_000)
})
