import { appendFile, open as openFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeRecord, encodeFrameRecord, encodeRecord } from '../../src/spool/record-codec.js'
import { decodeFrames, encodeFrame } from '../../src/spool/message-frame.js'
import type { Journal, RecordBatch } from '../../src/spool/journal.js'
import { MemoryJournal } from '../../src/spool/memory-journal.js'
import { SegmentJournal, type SegmentJournalOptions } from '../../src/spool/segment-journal.js'
import { canMountSmallDisk, mountSmallDisk, warnIfCannotMount, type SmallDisk } from '../helpers/small-disk.js'
import { useTempDir } from '../helpers/temp-dir.js'

const log = pino({ level: 'silent' })
let dir: string
useTempDir('iiot-journal-', (d) => (dir = d))

const open = (over: Partial<SegmentJournalOptions> = {}) => SegmentJournal.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 20, log, ...over })
const lines = (i: number) => [`m,t=a v=${i} ${1000 + i}`, `m,t=b v=${i} ${1000 + i}`]

async function readAll(j: Journal, maxLines = 1000): Promise<RecordBatch[]> {
  const out: RecordBatch[] = []
  for (let b = await j.read(maxLines); b; b = await j.read(maxLines)) out.push(b)
  return out
}

describe('record codec', () => {
  it('round-trips and detects damage', () => {
    const buf = encodeRecord(7, 1234, ['a b=1 1', 'c d="x" 2'])
    const r = decodeRecord(buf, 0)
    expect(r).toEqual({ kind: 'record', record: { format: 'lines', seq: 7, appendMs: 1234, lineCount: 2, messages: 1, payload: Buffer.from('a b=1 1\nc d="x" 2'), bytes: buf.length } })
    expect(decodeRecord(buf.subarray(0, buf.length - 1), 0).kind).toBe('incomplete')
    const flipped = Buffer.from(buf)
    flipped.writeUInt8(flipped.readUInt8(buf.length - 2) ^ 0x01, buf.length - 2)
    expect(decodeRecord(flipped, 0)).toMatchObject({ kind: 'corrupt', why: 'checksum mismatch' })
  })

  it('round-trips a record of message frames, flagged as such', () => {
    const frames = [encodeFrame('iiot/v1/z/f/l/m/telemetry', 'gw-1', 1, 1_700_000_000_000.5, Buffer.from([1, 2, 3])), encodeFrame('iiot/v1/z/f/_gateway/gw-1/connectivity', 'gw-1', 0, 5, Buffer.alloc(0))]
    const buf = encodeFrameRecord(9, 99, frames, 4)
    const r = decodeRecord(buf, 0)
    expect(r).toMatchObject({ kind: 'record', record: { format: 'frames', seq: 9, appendMs: 99, lineCount: 4, messages: 2, bytes: buf.length } })
    if (r.kind !== 'record') return
    expect(decodeFrames(r.record.payload).map((f) => [f.topic, f.gatewayId, f.qos, f.receivedMs, [...f.payload]])).toEqual([
      ['iiot/v1/z/f/l/m/telemetry', 'gw-1', 1, 1_700_000_000_000.5, [1, 2, 3]],
      ['iiot/v1/z/f/_gateway/gw-1/connectivity', 'gw-1', 0, 5, []],
    ])
    expect(() => decodeFrames(r.record.payload.subarray(0, r.record.payload.length - 1))).toThrow(/truncated/)
  })
})

describe('segment journal', () => {
  it('gathers the frames of one tick into one record, apart from lines, and reads them back after a reopen', async () => {
    const j = await open()
    const f = (i: number) => encodeFrame(`iiot/v1/z/f/l/m${i}/telemetry`, 'gw-1', 1, 1000 + i, Buffer.from([i]))
    await Promise.all([j.appendFrame(f(1), 2), j.appendFrame(f(2), 3), j.append(['a b=1 1']), j.appendFrame(f(3), 1)])
    await j.close()
    const k = await open()
    const batch = (await k.read(100))!
    expect(batch.records.map((r) => [r.format, r.messages, r.lineCount])).toEqual([
      ['frames', 2, 5],
      ['lines', 1, 1],
      ['frames', 1, 1],
    ])
    expect(decodeFrames(batch.records[0]!.payload).map((x) => x.topic)).toEqual(['iiot/v1/z/f/l/m1/telemetry', 'iiot/v1/z/f/l/m2/telemetry'])
    await k.close()
  })

  it('writes a message appended by its parts as the very frame encodeFrame makes, in the tick\'s record beside encoded frames', async () => {
    const j = await open()
    const payload = Buffer.from([7, 8, 9])
    const topic = 'iiot/v1/z/f/l/mé/telemetry'
    const encoded = encodeFrame('iiot/v1/z/f/l/m0/telemetry', 'gw-0', 0, 5, Buffer.alloc(0))
    await Promise.all([j.appendMessage(topic, 'gw-1', 1, 1_700_000_000_000.5, payload, 2), j.appendFrame(encoded, 1), j.appendMessage(topic, 'gw-2', 2, 6, payload, 1)])
    // A gateway id too long for a frame is refused at once, and leaves no record behind.
    expect(() => j.appendMessage(topic, 'g'.repeat(256), 1, 7, payload, 1)).toThrow(RangeError)
    const batch = (await j.read(100))!
    expect(batch.records.map((r) => [r.format, r.messages, r.lineCount])).toEqual([['frames', 3, 4]])
    const expected = Buffer.concat([encodeFrame(topic, 'gw-1', 1, 1_700_000_000_000.5, payload), encoded, encodeFrame(topic, 'gw-2', 2, 6, payload)])
    expect(batch.records[0]!.payload.equals(expected)).toBe(true)
    await new Promise((r) => setImmediate(r))
    expect(await j.read(100)).toBeUndefined()
    await j.close()
  })

  it('reads back every record of frames while many wait for their group commit at once (their memory is used again only once durable)', async () => {
    const j = await open({ maxBytes: 1 << 24, segmentBytes: 1 << 24 })
    const topic = 'iiot/v1/z/f/l/m/telemetry'
    const acked: Promise<void>[] = []
    // A record per tick, not awaited: records queue behind the write in flight.
    for (let t = 0; t < 200; t++) {
      for (let m = 0; m < 3; m++) acked.push(j.appendMessage(topic, `gw-${t}`, 1, t, Buffer.alloc(100 + t, t), 1))
      await new Promise((r) => setImmediate(r))
    }
    await Promise.all(acked)
    const payloads = (await readAll(j, 100_000)).flatMap((b) => b.records.flatMap((r) => decodeFrames(r.payload)))
    expect(payloads).toHaveLength(600)
    payloads.forEach((f, i) => {
      const t = Math.floor(i / 3)
      expect([f.gatewayId, f.receivedMs, f.payload.equals(Buffer.alloc(100 + t, t))]).toEqual([`gw-${t}`, t, true])
    })
    await j.close()
  })

  it('reads back in order what was appended, in batches bounded by lines', async () => {
    const j = await open()
    for (let i = 0; i < 10; i++) await j.append(lines(i))
    const batches = await readAll(j, 6)
    expect(batches.map((b) => b.lineCount)).toEqual([6, 6, 6, 2])
    expect(batches.flatMap((b) => b.records.map((r) => r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(batches[0]!.records[0]!.payload.toString()).toBe(lines(0).join('\n'))
    await j.close()
  })

  it('gathers the messages of one tick into one record, acknowledged together and counted as messages', async () => {
    const j = await open()
    const acked: number[] = []
    const all = Array.from({ length: 10 }, (_, i) => j.append(lines(i)).then(() => acked.push(i)))
    expect(acked).toEqual([])
    await Promise.all(all)
    expect(acked).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(j.stats()).toMatchObject({ unwrittenRecords: 10, appendedRecords: 10 })
    const [batch] = await readAll(j)
    expect(batch).toMatchObject({ lineCount: 20, messages: 10 })
    expect(batch!.records).toHaveLength(1)
    expect(batch!.records[0]!.payload.toString()).toBe(Array.from({ length: 10 }, (_, i) => lines(i)).flat().join('\n'))
    j.complete(batch!)
    expect(j.stats().unwrittenRecords).toBe(0)
    await j.close()
  })

  it('acknowledges every message of a tick cut short by the record size limit, in records that read back whole', async () => {
    const j = await open({ maxBytes: 64 << 20, segmentBytes: 64 << 20 })
    // Three messages of 3 MB in one tick: the third passes the 8 MB a record may hold, which cuts
    // the record there and resets it for the next tick: the third's promise must still be its own.
    const big = (i: number) => j.appendMessage(`iiot/v1/z/f/l/m${i}/telemetry`, 'gw-1', 1, 1000 + i, Buffer.alloc(3 << 20, i), 1)
    const acked: number[] = []
    const all = [0, 1, 2].map((i) => big(i).then(() => acked.push(i)))
    const settled = await Promise.race([Promise.all(all).then(() => 'all'), new Promise((r) => setTimeout(r, 5000, 'timeout'))])
    expect(settled).toBe('all')
    expect(acked).toEqual([0, 1, 2])
    // A later tick, in the record used again.
    await big(3)
    const records = (await readAll(j, 100)).flatMap((b) => b.records)
    expect(records.map((r) => r.messages)).toEqual([3, 1])
    expect(records.flatMap((r) => decodeFrames(r.payload).map((f) => f.payload[0]))).toEqual([0, 1, 2, 3])
    await j.close()
  })

  it('reads its newest durable records from memory, not back from the file it just wrote', async () => {
    const j = await open()
    for (let i = 0; i < 3; i++) await j.append(lines(i))
    // Overwrite the segment's bytes: a reader going to the file would find no valid record.
    const [name] = (await readdir(dir)).filter((f) => f.startsWith('segment-'))
    const fh = await openFile(join(dir, name!), 'r+')
    const { size } = await fh.stat()
    await fh.write(Buffer.alloc(size), 0, size, 0)
    await fh.close()
    const read = await readAll(j)
    expect(read.flatMap((b) => b.records.map((r) => r.payload.toString()))).toEqual([0, 1, 2].map((i) => lines(i).join('\n')))
    await j.close()
  })

  it('replays after a restart exactly what was not completed', async () => {
    const j = await open()
    for (let i = 0; i < 5; i++) await j.append(lines(i))
    const [first, second] = [await j.read(4), await j.read(4)]
    j.complete(second!) // out of order: the checkpoint must not move past the first
    expect(j.stats().checkpointSeq).toBe(0)
    j.complete(first!)
    expect(j.stats().checkpointSeq).toBe(4)
    await j.close()

    const again = await open()
    expect(again.stats()).toMatchObject({ unwrittenRecords: 1, checkpointSeq: 4 })
    const replay = await readAll(again)
    expect(replay.flatMap((b) => b.records.map((r) => r.seq))).toEqual([5])
    await again.append(lines(5))
    expect((await again.read(100))!.records.map((r) => r.seq)).toEqual([6])
    await again.close()
  })

  it('drops a torn tail (never acknowledged) and keeps the records before it', async () => {
    const j = await open()
    for (let i = 0; i < 3; i++) await j.append(lines(i))
    await j.close()
    const [segment] = (await readdir(dir)).filter((n) => n.startsWith('segment-')).sort().slice(-2)
    // Half a record at the end of the newest non-empty segment, as a crash mid-write leaves it.
    const half = encodeRecord(99, 0, ['torn x=1 1']).subarray(0, 20)
    const names = (await readdir(dir)).filter((n) => n.startsWith('segment-')).sort()
    let target = segment!
    for (const n of names) if ((await stat(join(dir, n))).size > 0) target = n
    await appendFile(join(dir, target), half)
    const again = await open()
    expect((await readAll(again)).flatMap((b) => b.records.map((r) => r.seq))).toEqual([1, 2, 3])
    await again.close()
  })

  it('rotates segments and deletes those wholly written', async () => {
    const j = await open({ segmentBytes: 64 * 1024 })
    const big = (i: number) => [`m,t=a v="${'x'.repeat(10_000)}" ${i}`]
    for (let i = 0; i < 20; i++) await j.append(big(i))
    const segments = async () => (await readdir(dir)).filter((n) => n.startsWith('segment-')).length
    expect(await segments()).toBeGreaterThan(2)
    for (const b of await readAll(j, 3)) j.complete(b)
    await j.close() // persists the checkpoint and deletes
    expect(await segments()).toBeLessThanOrEqual(1)
    const again = await open({ segmentBytes: 64 * 1024 })
    expect(again.stats().unwrittenRecords).toBe(0)
    await again.close()
  })

  // Regression: a second rotation asked for while the first still ran sealed the new segment with the
  // old file's size, and the drainer then spun on a segment shorter than it thought.
  it('keeps every record when rotations pile up under a burst of concurrent appends', async () => {
    const j = await open({ segmentBytes: 64 * 1024, maxBytes: 1 << 30 })
    const sized = (i: number, bytes: number) => [`m,t=a v="${'x'.repeat(bytes)}" ${i}`]
    // 63 KB, then 2 KB (rotation 1: a small segment), then 63 KB (rotation 2, asked for before rotation 1 ran), repeated.
    const sizes = Array.from({ length: 30 }, (_, i) => [63_000, 2_000, 63_000][i % 3]!)
    // One record per tick, without waiting for any to be durable.
    const appends: Promise<void>[] = []
    for (const [i, b] of sizes.entries()) {
      appends.push(j.append(sized(i, b)))
      await new Promise((r) => process.nextTick(r))
    }
    await Promise.all(appends)
    const batches = await Promise.race([readAll(j, 7), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('read did not finish')), 5000))])
    const seqs = batches.flatMap((b) => b.records.map((r) => r.seq))
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    await j.close()
    const again = await open({ segmentBytes: 64 * 1024, maxBytes: 1 << 30 })
    expect((await readAll(again)).flatMap((b) => b.records.map((r) => r.seq))).toEqual(seqs)
    await again.close()
  })

  it('is full above its limit and has room again once records are written', async () => {
    const j = await open({ maxBytes: 1000 })
    while (!j.full) await j.append(lines(1))
    let roomy = false
    const room = j.waitForRoom().then(() => (roomy = true))
    await new Promise((r) => setTimeout(r, 20))
    expect(roomy).toBe(false)
    for (const b of await readAll(j)) j.complete(b)
    await room
    expect(j.full).toBe(false)
    await j.close()
  })
})

describe('memory journal', () => {
  it('keeps the same contract', async () => {
    const j = new MemoryJournal(10_000)
    for (let i = 0; i < 4; i++) await j.append(lines(i))
    const [a, b] = [await j.read(4), await j.read(4)]
    j.complete(b!)
    expect(j.stats().checkpointSeq).toBe(0)
    j.complete(a!)
    expect(j.stats()).toMatchObject({ checkpointSeq: 4, unwrittenRecords: 0, unwrittenBytes: 0 })
  })
})

/** A file system whose free space the test sets. */
function fakeDisk(freeBytes: number) {
  const disk = { freeBytes, checks: 0, statfs: async () => (disk.checks++, { bavail: Math.floor(disk.freeBytes / 4096), bsize: 4096 }) }
  return disk
}
const segmentSizes = async (d: string) => Promise.all((await readdir(d)).filter((n) => n.startsWith('segment-')).sort().map(async (n) => (await stat(join(d, n))).size))
const within = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))])

describe('segment journal, low free space', () => {
  it('reports itself full below JOURNAL_MIN_FREE_BYTES, counting its own appends between checks, and has room again when space returns', async () => {
    const disk = fakeDisk(100_000)
    const j = await open({ minFreeBytes: 50_000, freeSpaceCheckMs: 3_600_000, statfs: disk.statfs })
    expect(disk.checks).toBe(1) // checked once at open, then on a timer: never per append
    expect(j.full).toBe(false)
    const big = [`m,t=a v="${'x'.repeat(10_000)}" 1`]
    for (let i = 0; i < 4; i++) await j.append(big)
    expect(j.full).toBe(false)
    // 40 KB appended since the check: the estimate is below 60 KB free, and the next append crosses 50 KB.
    await j.append(big)
    await j.append(big)
    expect(j.full).toBe(true)
    expect(j.pressure()).toMatchObject({ lowDiskSpace: true, overLimit: false, writeFailing: false })
    expect(disk.checks).toBe(1)
    await j.close()
  })

  it('checks the disk on a timer and wakes the waiting writers when space returns', async () => {
    const disk = fakeDisk(1000)
    const j = await open({ minFreeBytes: 50_000, freeSpaceCheckMs: 20, statfs: disk.statfs })
    expect(j.full).toBe(true)
    expect(j.pressure().diskFreeBytes).toBe(0)
    let roomy = false
    const room = j.waitForRoom().then(() => (roomy = true))
    await new Promise((r) => setTimeout(r, 100))
    expect(roomy).toBe(false)
    disk.freeBytes = 10_000_000
    await within(room, 2000, 'room after space returned')
    expect(j.full).toBe(false)
    expect(j.pressure()).toMatchObject({ lowDiskSpace: false, diskFreeBytes: 10_000_000 - (10_000_000 % 4096) })
    await j.close()
  })

  it('never reports low space with JOURNAL_MIN_FREE_BYTES=0', async () => {
    const disk = fakeDisk(0)
    const j = await open({ minFreeBytes: 0, statfs: disk.statfs })
    await j.append(lines(1))
    expect(j.full).toBe(false)
    await j.close()
  })

  it('releases the only segment, the active one, once everything in it is written and checkpointed while the disk is low', async () => {
    const disk = fakeDisk(1000)
    const j = await open({ minFreeBytes: 50_000, freeSpaceCheckMs: 20, statfs: disk.statfs })
    for (let i = 0; i < 5; i++) await j.append(lines(i))
    expect(await segmentSizes(dir)).toEqual([expect.any(Number)])
    expect((await segmentSizes(dir))[0]).toBeGreaterThan(0)
    for (const b of await readAll(j)) j.complete(b)
    // The checkpoint is saved, then the segment emptied: its space is what the disk lacks.
    await within((async () => { while ((await segmentSizes(dir))[0] !== 0) await new Promise((r) => setTimeout(r, 10)) })(), 3000, 'segment emptied')
    expect(await segmentSizes(dir)).toEqual([0])
    // The journal goes on in the same file from its start.
    await j.append(lines(5))
    const [after] = await readAll(j)
    expect(after!.records.map((r) => r.seq)).toEqual([6])
    j.complete(after!)
    await j.append(lines(6))
    await j.close()
    const again = await open({ minFreeBytes: 0 })
    expect(again.stats()).toMatchObject({ checkpointSeq: 6, unwrittenRecords: 1 })
    expect((await readAll(again)).flatMap((b) => b.records.map((r) => r.seq))).toEqual([7])
    await again.close()
  })

  it('keeps a segment with data not yet written, however low the disk', async () => {
    const disk = fakeDisk(1000)
    const j = await open({ minFreeBytes: 50_000, freeSpaceCheckMs: 20, statfs: disk.statfs })
    for (let i = 0; i < 5; i++) await j.append(lines(i))
    const [first] = [await j.read(4)]
    j.complete(first!) // records 1-2 written, 3-5 not even read
    await new Promise((r) => setTimeout(r, 300))
    await j.close()
    const again = await open({ minFreeBytes: 0 })
    expect(again.stats()).toMatchObject({ checkpointSeq: 2, unwrittenRecords: 3 })
    expect((await readAll(again)).flatMap((b) => b.records.map((r) => r.seq))).toEqual([3, 4, 5])
    await again.close()
  })
})

warnIfCannotMount('journal on a full disk')
describe.skipIf(!canMountSmallDisk)('segment journal on a full disk (tmpfs)', () => {
  let disk: SmallDisk
  beforeEach(async () => {
    disk = await mountSmallDisk(1024 * 1024)
  })
  afterEach(async () => {
    await disk.dispose()
  })

  /** Appends one 10 KB record per tick until the disk refuses a write; returns the appends (acknowledged or waiting). */
  async function fillWithAppends(j: Journal): Promise<{ seq: number; durable: boolean; done: Promise<void> }[]> {
    const out: { seq: number; durable: boolean; done: Promise<void> }[] = []
    for (let i = 0; !j.full; i++) {
      if (i > 10_000) throw new Error('the disk never filled')
      const entry = { seq: i + 1, durable: false, done: j.append([`m,t=a v="${'x'.repeat(10_000)}" ${i}`]) }
      entry.done.then(() => (entry.durable = true), () => undefined)
      out.push(entry)
      await new Promise((r) => setTimeout(r, 1))
    }
    return out
  }

  it('recovers by itself once what it holds is written: the checkpoint is saved and the only segment emptied, and the waiting appends become durable', async () => {
    const j = await SegmentJournal.open({ dir: disk.dir, maxBytes: 1 << 30, segmentBytes: 64 << 20, minFreeBytes: 0, log })
    const appends = await fillWithAppends(j)
    expect(j.full).toBe(true)
    expect(j.pressure()).toMatchObject({ writeFailing: true, lowDiskSpace: true })
    expect(await disk.freeBytes()).toBeLessThan(20_000)
    const waiting = appends.filter((a) => !a.durable)
    expect(waiting.length).toBeGreaterThan(0)
    // The drainer writes everything durable to storage...
    let written = 0
    for (const b of await readAll(j)) {
      written += b.messages
      j.complete(b)
    }
    expect(written).toBe(appends.length - waiting.length)
    // ...and without anyone's help the journal makes room for what waits.
    await within(Promise.all(waiting.map((a) => a.done)), 10_000, 'the waiting appends')
    await eventuallyTrue(() => !j.full, 5000)
    const rest = await readAll(j)
    expect(rest.flatMap((b) => b.records.map((r) => r.seq))).toEqual(waiting.map((a) => a.seq))
    await j.close()
    const again = await SegmentJournal.open({ dir: disk.dir, maxBytes: 1 << 30, segmentBytes: 64 << 20, minFreeBytes: 0, log })
    // The checkpoint was saved on the full disk: only the records read after it are replayed.
    expect(again.stats()).toMatchObject({ checkpointSeq: written, unwrittenRecords: waiting.length })
    await again.close()
  }, 30_000)

  it('closes on a full disk: appends the disk still refuses are failed (never acknowledged), not retried forever', async () => {
    const j = await SegmentJournal.open({ dir: disk.dir, maxBytes: 1 << 30, segmentBytes: 64 << 20, minFreeBytes: 0, log })
    const appends = await fillWithAppends(j)
    const waiting = appends.filter((a) => !a.durable)
    const outcomes = waiting.map((a) => a.done.then(() => 'durable', () => 'failed'))
    await within(j.close(), 5000, 'close on a full disk')
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set(['failed']))
  }, 30_000)
})

async function eventuallyTrue(cond: () => boolean, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > deadline) throw new Error('condition not met')
}
