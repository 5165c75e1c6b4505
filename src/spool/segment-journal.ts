import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { AppendFile, type AppendFileOptions } from './append-file.js'
import { deferred, type Deferred } from './deferred.js'
import { CheckpointTracker, type Journal, type JournalStats, type RecordBatch } from './journal.js'
import { decodeRecord, encodeRecord, HEADER_BYTES, type JournalRecord } from './record-codec.js'
import { readCheckpoint, recover, segmentPath, syncDir, type Segment } from './segment-files.js'

export interface SegmentJournalOptions {
  readonly dir: string
  /** Unwritten bytes above which the journal reports itself full (the high-water mark). */
  readonly maxBytes: number
  readonly segmentBytes: number
  readonly log: Logger
}


const READ_CHUNK = 1024 * 1024
/** Appended bytes waiting for their fdatasync; beyond this the journal reports itself full, which bounds memory under a QoS 0 flood. */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024
/** Characters of line protocol above which a tick's record is written at once (about 8 MB). */
const MAX_TICK_CHARS = 8 * 1024 * 1024

/**
 * The durable journal: append-only segment files of checksummed records
 * (record-codec.ts), group-committed with fdatasync (append-file.ts), read
 * back in order by the drainer, and deleted once the checkpoint (the last
 * sequence number InfluxDB accepted, contiguously) has passed them.
 *
 * Why segments and not SQLite: appends are sequential writes with one
 * fdatasync per group, reads are sequential, deletion is unlinking a whole
 * file; no native dependency, and all I/O is async. See docs/decisions.md.
 */
export class SegmentJournal implements Journal {
  private readonly segments: Segment[] = []
  /** The open file and the segment it writes (they change together, when a rotation completes). */
  private active!: AppendFile
  private writingSegment!: Segment
  /** The segment new appends are assigned to (ahead of `writingSegment` while a rotation runs). */
  private activeSegment!: Segment
  private activeBytes = 0
  private rotating: Promise<void> | undefined
  private nextSeq: number
  private cursor = { firstSeq: 0, offset: 0 }
  private readHandle: { firstSeq: number; fh: FileHandle } | undefined
  private unwrittenBytes = 0
  private unwrittenRecords = 0
  private appendedRecords = 0
  private unreadOldestMs: number | undefined
  private readonly tracker: CheckpointTracker
  private dataWaiters: (() => void)[] = []
  private roomWaiters: (() => void)[] = []
  private checkpointTimer: NodeJS.Timeout | undefined
  private checkpointWrite: Promise<void> = Promise.resolve()
  /** The record the messages of this tick are gathered into. */
  private tick: { lines: string[]; messages: number; chars: number; done: Deferred } | undefined

  private constructor(
    private readonly opts: SegmentJournalOptions,
    checkpointSeq: number,
    nextSeq: number,
  ) {
    this.nextSeq = nextSeq
    this.tracker = new CheckpointTracker(checkpointSeq, (seq, bytes, records) => this.onAdvance(seq, bytes, records))
  }

  static async open(opts: SegmentJournalOptions): Promise<SegmentJournal> {
    await mkdir(opts.dir, { recursive: true })
    const checkpointSeq = await readCheckpoint(opts.dir)
    const recovered = await recover(opts, checkpointSeq)
    const journal = new SegmentJournal(opts, checkpointSeq, recovered.nextSeq)
    journal.segments.push(...recovered.segments)
    journal.unwrittenBytes = recovered.unwrittenBytes
    journal.unwrittenRecords = recovered.unwrittenRecords
    journal.unreadOldestMs = recovered.oldestMs
    journal.cursor = recovered.cursor ?? { firstSeq: recovered.nextSeq, offset: 0 }
    await journal.startSegment()
    if (recovered.unwrittenRecords > 0) {
      opts.log.info({ records: recovered.unwrittenRecords, bytes: recovered.unwrittenBytes }, 'journal: replaying records not yet written to storage')
    }
    return journal
  }

  get full(): boolean {
    return this.unwrittenBytes >= this.opts.maxBytes || this.active.isFailing || this.active.queuedBytes >= MAX_QUEUED_BYTES
  }

  /**
   * The messages appended in one tick of the event loop (a socket chunk's publishes, typically)
   * become one record, written at the end of the tick: one header, checksum and read-back per
   * chunk rather than per message, which is most of the journal's cost for one-sample messages.
   * They are acknowledged together, by the record's group commit.
   */
  append(lines: readonly string[]): Promise<void> {
    let tick = this.tick
    if (!tick) {
      tick = this.tick = { lines: [], messages: 0, chars: 0, done: deferred() }
      process.nextTick(() => this.flushTick())
    }
    for (const l of lines) {
      tick.lines.push(l)
      tick.chars += l.length
    }
    tick.messages++
    this.appendedRecords++
    const done = tick.done.promise
    // A burst bigger than a record should be (rare: one tick is one socket chunk) is cut short.
    if (tick.chars > MAX_TICK_CHARS) this.flushTick()
    return done
  }

  private flushTick(): void {
    const tick = this.tick
    if (!tick) return
    this.tick = undefined
    const seq = this.nextSeq++
    const now = Date.now()
    const buf = encodeRecord(seq, now, tick.lines, tick.messages)
    this.unwrittenBytes += buf.length
    this.unwrittenRecords += tick.messages
    this.unreadOldestMs ??= now
    if (this.activeBytes > 0 && this.activeBytes + buf.length > this.opts.segmentBytes) this.rotate(seq)
    this.activeBytes += buf.length
    // The record resolves with its group's sync; the segment's size and the waiters are updated
    // once per group, by onSynced.
    const written = this.rotating ? this.rotating.then(() => this.active.append(buf)) : this.active.append(buf)
    written.then(tick.done.resolve, tick.done.reject)
  }

  private rotate(firstSeq: number): void {
    const previous = this.rotating ?? Promise.resolve()
    this.activeBytes = 0
    const segment: Segment = { firstSeq, path: segmentPath(this.opts.dir, firstSeq), size: 0, sealed: false }
    this.segments.push(segment)
    this.activeSegment = segment
    // Rotations chain: each closes the file open when it runs (not when it was asked for), so two
    // rotations in quick succession each seal the right segment with that segment's own size.
    const rotation = previous.then(async () => {
      const old = this.active
      const oldSegment = this.writingSegment
      await old.close()
      oldSegment.size = old.size
      oldSegment.sealed = true
      this.active = await AppendFile.open(segment.path, this.appendFileOptions(segment))
      this.writingSegment = segment
      await syncDir(this.opts.dir)
    })
    this.rotating = rotation
    void rotation.finally(() => {
      if (this.rotating === rotation) this.rotating = undefined
      this.wakeData()
    })
  }

  private async startSegment(): Promise<void> {
    const segment: Segment = { firstSeq: this.nextSeq, path: segmentPath(this.opts.dir, this.nextSeq), size: 0, sealed: false }
    this.active = await AppendFile.open(segment.path, this.appendFileOptions(segment))
    await syncDir(this.opts.dir)
    this.segments.push(segment)
    this.activeSegment = segment
    this.writingSegment = segment
  }

  private appendFileOptions(segment: Segment): AppendFileOptions {
    return {
      onSynced: (size) => {
        // Each file belongs to one segment: its synced size is that segment's readable size.
        segment.size = Math.max(segment.size, size)
        this.wakeData()
        if (this.roomWaiters.length > 0) this.wakeRoom()
      },
      onError: (err: NodeJS.ErrnoException) => this.opts.log.error({ code: err.code, err: err.message }, `journal: cannot write (${err.code === 'ENOSPC' ? 'disk full' : err.code}); holding acknowledgements and retrying`),
      onRecovered: () => {
        this.opts.log.warn('journal: writes succeed again')
        this.wakeRoom()
      },
    }
  }

  waitForRoom(): Promise<void> {
    if (!this.full) return Promise.resolve()
    return new Promise((resolve) => {
      this.roomWaiters.push(resolve)
      // Disk recovery has no event of its own when nothing completes; poll as a fallback.
      setTimeout(() => this.wakeRoom(), 500).unref()
    })
  }

  private wakeRoom(): void {
    if (this.full) return
    const waiters = this.roomWaiters
    this.roomWaiters = []
    for (const w of waiters) w()
  }

  waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.dataWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private wakeData(): void {
    const waiters = this.dataWaiters
    this.dataWaiters = []
    for (const w of waiters) w()
  }

  async read(maxLines: number): Promise<RecordBatch | undefined> {
    const records: JournalRecord[] = []
    let lineCount = 0
    let bytes = 0
    let messages = 0
    while (lineCount < maxLines) {
      const index = this.segments.findIndex((s) => s.firstSeq === this.cursor.firstSeq)
      const segment = this.segments[index]
      if (!segment) break
      if (this.cursor.offset >= segment.size) {
        const next = this.segments[index + 1]
        if (segment.sealed && next) {
          this.cursor = { firstSeq: next.firstSeq, offset: 0 }
          continue
        }
        break
      }
      const chunk = await this.readChunk(segment, this.cursor.offset, Math.min(segment.size - this.cursor.offset, READ_CHUNK))
      if (chunk.length === 0) {
        // The file is shorter than its durable size says: never spin on it; report and stop this read.
        this.opts.log.error({ segment: segment.path, offset: this.cursor.offset, size: segment.size }, 'journal: segment shorter than expected')
        break
      }
      let pos = 0
      while (pos < chunk.length && lineCount < maxLines) {
        const r = decodeRecord(chunk, pos)
        if (r.kind === 'incomplete') {
          if (pos === 0) {
            // One record larger than the chunk: read exactly it.
            const len = chunk.readUInt32LE(0) + HEADER_BYTES
            const whole = await this.readChunk(segment, this.cursor.offset, len)
            const again = decodeRecord(whole, 0)
            if (again.kind !== 'record') throw new Error(`journal: unreadable record at ${segment.path}:${this.cursor.offset}`)
            records.push(again.record)
            lineCount += again.record.lineCount
            messages += again.record.messages
            bytes += again.record.bytes
            this.cursor.offset += again.record.bytes
          }
          break
        }
        if (r.kind === 'corrupt') {
          // Durable data never fails its checksum unless the disk lies: skip the rest of this segment, loudly.
          this.opts.log.error({ segment: segment.path, offset: this.cursor.offset, why: r.why }, 'journal: corrupt record; skipping the rest of the segment')
          this.cursor.offset = segment.size
          break
        }
        records.push(r.record)
        lineCount += r.record.lineCount
        messages += r.record.messages
        bytes += r.record.bytes
        pos += r.record.bytes
        this.cursor.offset += r.record.bytes
      }
    }
    if (records.length === 0) return undefined
    const last = records.at(-1)!
    this.unreadOldestMs = last.seq >= this.nextSeq - 1 ? undefined : last.appendMs
    const batch: RecordBatch = { records, lineCount, bytes, messages }
    this.tracker.register(batch)
    return batch
  }

  private async readChunk(segment: Segment, offset: number, length: number): Promise<Buffer> {
    if (this.readHandle?.firstSeq !== segment.firstSeq) {
      await this.readHandle?.fh.close()
      this.readHandle = { firstSeq: segment.firstSeq, fh: await open(segment.path, 'r') }
    }
    const buf = Buffer.allocUnsafe(length)
    const { bytesRead } = await this.readHandle.fh.read(buf, 0, length, offset)
    return buf.subarray(0, bytesRead)
  }

  complete(batch: RecordBatch): void {
    this.tracker.complete(batch)
  }

  private onAdvance(_seq: number, bytes: number, records: number): void {
    this.unwrittenBytes -= bytes
    this.unwrittenRecords -= records
    this.scheduleCheckpoint()
    this.wakeRoom()
  }

  private scheduleCheckpoint(): void {
    this.checkpointTimer ??= setTimeout(() => {
      this.checkpointTimer = undefined
      this.checkpointWrite = this.checkpointWrite.then(() => this.persistCheckpoint())
    }, 100)
  }

  /** Writes the checkpoint (atomically) and deletes segments wholly before it. */
  private async persistCheckpoint(): Promise<void> {
    const seq = this.tracker.checkpointSeq
    const tmp = join(this.opts.dir, 'checkpoint.json.tmp')
    try {
      await writeFile(tmp, JSON.stringify({ seq }) + '\n')
      await rename(tmp, join(this.opts.dir, 'checkpoint.json'))
    } catch (err) {
      this.opts.log.error({ err }, 'journal: cannot save the checkpoint (records will be replayed)')
      return
    }
    while (this.segments.length > 1) {
      const [first, second] = this.segments as [Segment, Segment]
      if (!first.sealed || second.firstSeq - 1 > seq || this.cursor.firstSeq === first.firstSeq) break
      this.segments.shift()
      if (this.readHandle?.firstSeq === first.firstSeq) {
        await this.readHandle.fh.close()
        this.readHandle = undefined
      }
      await unlink(first.path).catch((err: unknown) => this.opts.log.warn({ err }, 'journal: cannot delete a written segment'))
    }
  }

  stats(): JournalStats {
    return {
      unwrittenRecords: this.unwrittenRecords,
      unwrittenBytes: this.unwrittenBytes,
      oldestUnwrittenMs: this.tracker.oldestInFlightMs() ?? this.unreadOldestMs,
      appendedRecords: this.appendedRecords,
      checkpointSeq: this.tracker.checkpointSeq,
    }
  }

  async close(): Promise<void> {
    this.flushTick()
    await this.rotating
    await this.active.close()
    clearTimeout(this.checkpointTimer)
    this.checkpointTimer = undefined
    await this.checkpointWrite
    await this.persistCheckpoint()
    await this.readHandle?.fh.close()
    this.readHandle = undefined
  }
}
