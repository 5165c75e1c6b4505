import { mkdir, unlink } from 'node:fs/promises'
import type { Logger } from 'pino'
import { AppendFile, type AppendFileOptions } from './append-file.js'
import { CheckpointFile } from './checkpoint-file.js'
import { FreeSpaceMonitor, type StatFs } from './free-space.js'
import { CheckpointTracker, type Journal, type JournalPressure, type JournalStats, type RecordBatch } from './journal.js'
import { recover, segmentPath, syncDir, type Recovered, type Segment } from './segment-files.js'
import { SegmentReader } from './segment-reader.js'
import { TailCache } from './tail-cache.js'
import { TickRecord } from './tick-record.js'

export interface SegmentJournalOptions {
  readonly dir: string
  /** Unwritten bytes above which the journal reports itself full (the high-water mark). */
  readonly maxBytes: number
  readonly segmentBytes: number
  /** Free bytes on the journal's disk below which it reports itself full (JOURNAL_MIN_FREE_BYTES; 0 or absent: off). */
  readonly minFreeBytes?: number
  /** How often the free space is asked for (default 1 s). */
  readonly freeSpaceCheckMs?: number
  /** Test seam for the free-space question. */
  readonly statfs?: StatFs
  readonly log: Logger
}

/** Appended bytes waiting for their fdatasync; beyond this the journal reports itself full, which bounds memory under a QoS 0 flood. */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024
/** Characters of line protocol above which a tick's record is written at once (about 8 MB). */
const MAX_TICK_CHARS = 8 * 1024 * 1024
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']) // write errors that mean "no space" (a quota counts)

/**
 * The durable journal: append-only segment files of checksummed records (record-codec.ts),
 * group-committed with fdatasync (append-file.ts), read back in order by the drainer (the newest
 * from memory: tail-cache.ts), and deleted once the checkpoint (the last sequence number InfluxDB
 * accepted, contiguously) has passed them.
 *
 * Why segments and not SQLite: appends are sequential writes with one fdatasync per group, reads
 * are sequential, deletion is unlinking a whole file; no native dependency, and all I/O is async.
 * See docs/decisions.md. A full disk recovers by itself (docs/delivery.md, "A full disk"): the
 * checkpoint is overwritten in place (checkpoint-file.ts), and while the disk is short of space the
 * active segment is emptied once all of it is written and checkpointed, which frees the room the
 * waiting appends need.
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
  private readonly reader: SegmentReader
  private readonly tail = new TailCache()
  private unwrittenBytes = 0
  readonly replayBelowSeq: number
  private unwrittenRecords = 0
  private appendedRecords = 0
  private unreadOldestMs: number | undefined
  private readonly tracker: CheckpointTracker
  private dataWaiters: (() => void)[] = []
  private roomWaiters: (() => void)[] = []
  private checkpointTimer: NodeJS.Timeout | undefined
  private checkpointWrite: Promise<void> = Promise.resolve()
  private reclaiming = false
  private closing = false
  private readonly space: FreeSpaceMonitor
  /** The record the messages of this tick are gathered into (lines, or frames: never both), and the last one encoded, emptied for the next tick. */
  private tick: TickRecord | undefined
  private spareTick: TickRecord | undefined

  private constructor(
    private readonly opts: SegmentJournalOptions,
    private readonly checkpoint: CheckpointFile,
    nextSeq: number,
  ) {
    this.nextSeq = nextSeq
    this.replayBelowSeq = nextSeq
    this.reader = new SegmentReader({ firstSeq: nextSeq, offset: 0 }, opts.log, this.tail)
    this.tracker = new CheckpointTracker(checkpoint.seq, (seq, bytes, records) => this.onAdvance(seq, bytes, records))
    const onChecked = () => {
      this.wakeRoom()
      this.reclaim()
    }
    this.space = new FreeSpaceMonitor({ dir: opts.dir, minFreeBytes: opts.minFreeBytes ?? 0, intervalMs: opts.freeSpaceCheckMs ?? 1000, log: opts.log, ...(opts.statfs ? { statfs: opts.statfs } : {}), onChecked })
  }

  static async open(opts: SegmentJournalOptions): Promise<SegmentJournal> {
    await mkdir(opts.dir, { recursive: true })
    const checkpoint = await CheckpointFile.open(opts.dir, opts.log)
    let recovered: Recovered
    let journal: SegmentJournal
    try {
      recovered = await recover(opts, checkpoint.seq)
      journal = new SegmentJournal(opts, checkpoint, recovered.nextSeq)
      journal.segments.push(...recovered.segments)
      journal.unwrittenBytes = recovered.unwrittenBytes
      journal.unwrittenRecords = recovered.unwrittenRecords
      journal.unreadOldestMs = recovered.oldestMs
      journal.reader.cursor = recovered.cursor ?? { firstSeq: recovered.nextSeq, offset: 0 }
      await journal.startSegment()
    } catch (err) {
      await checkpoint.close()
      throw err
    }
    await journal.space.start()
    if (recovered.unwrittenRecords > 0) {
      opts.log.info({ records: recovered.unwrittenRecords, bytes: recovered.unwrittenBytes }, 'journal: replaying records not yet written to storage')
    }
    return journal
  }

  get full(): boolean {
    return this.unwrittenBytes >= this.opts.maxBytes || this.active.isFailing || this.active.queuedBytes >= MAX_QUEUED_BYTES || this.space.low
  }

  pressure(): JournalPressure {
    const free = this.space.freeBytes
    return {
      overLimit: this.unwrittenBytes >= this.opts.maxBytes || this.active.queuedBytes >= MAX_QUEUED_BYTES,
      lowDiskSpace: this.space.low || NO_SPACE.has(this.active.failureCode ?? ''),
      writeFailing: this.active.isFailing,
      diskFreeBytes: Number.isFinite(free) ? free : undefined,
    }
  }

  /**
   * The messages appended in one tick of the event loop (a socket chunk's publishes, typically)
   * become one record, written at the end of the tick: one header, checksum and read-back per
   * chunk rather than per message, which is most of the journal's cost for one-sample messages.
   * They are acknowledged together, by the record's group commit.
   */
  append(lines: readonly string[]): Promise<void> {
    const tick = this.tickFor('lines')
    tick.addLines(lines)
    return this.added(tick)
  }

  /** One received message, as a frame (message-frame.ts); gathered into the tick's record like `append`. */
  appendFrame(frame: Buffer, estimatedLines: number): Promise<void> {
    const tick = this.tickFor('frames')
    tick.addFrame(frame, estimatedLines)
    return this.added(tick)
  }

  /** One received message by its parts, its frame written straight into the tick's record (tick-record.ts). */
  appendMessage(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer, estimatedLines: number): Promise<void> {
    const tick = this.tickFor('frames')
    tick.addMessage(topic, gatewayId, qos, receivedMs, payload, estimatedLines)
    return this.added(tick)
  }

  private added(tick: TickRecord): Promise<void> {
    this.appendedRecords++
    // A burst bigger than a record should be (rare: one tick is one socket chunk) is cut short;
    // the record is then reset for the next tick, so its promise is taken first.
    const durable = tick.done.promise
    if (tick.chars > MAX_TICK_CHARS) this.flushTick()
    return durable
  }

  private tickFor(format: 'lines' | 'frames'): TickRecord {
    // A record holds one format: a message of the other one closes the tick's record first.
    const held = this.tick?.format
    if (held !== undefined && held !== format) this.flushTick()
    let tick = this.tick
    if (!tick) {
      tick = this.tick = this.spareTick ?? new TickRecord()
      this.spareTick = undefined
      process.nextTick(() => this.flushTick())
    }
    return tick
  }

  private flushTick(): void {
    const tick = this.tick
    if (!tick) return
    this.tick = undefined
    // A message its frame's limits refused (RangeError) can leave a tick empty: no record then.
    const done = tick.done
    if (tick.messages === 0) return done.resolve()
    const seq = this.nextSeq++
    const now = Date.now()
    const buf = tick.encode(seq, now)
    this.unwrittenBytes += buf.length
    this.space.note(buf.length)
    this.unwrittenRecords += tick.messages
    this.spareTick = tick.reset()
    this.unreadOldestMs ??= now
    if (this.activeBytes > 0 && this.activeBytes + buf.length > this.opts.segmentBytes) this.rotate(seq)
    this.tail.add(this.activeSegment.firstSeq, this.activeBytes, buf)
    this.activeBytes += buf.length
    // The record resolves with its group's sync; segment size and waiters are updated per group (onSynced).
    const written = this.rotating ? this.rotating.then(() => this.active.append(buf)) : this.active.append(buf)
    written.then(done.resolve, done.reject)
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
    const { records, lineCount, bytes, messages } = await this.reader.read(this.segments, maxLines)
    if (records.length === 0) return undefined
    const last = records.at(-1)!
    this.unreadOldestMs = last.seq >= this.nextSeq - 1 ? undefined : last.appendMs
    const batch: RecordBatch = { records, lineCount, bytes, messages }
    this.tracker.register(batch)
    return batch
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

  /** Writes the checkpoint (in place, durably) and deletes segments wholly before it. */
  private async persistCheckpoint(): Promise<void> {
    const seq = this.tracker.checkpointSeq
    try {
      if (seq !== this.checkpoint.seq) await this.checkpoint.write(seq)
    } catch (err) {
      this.opts.log.error({ err }, 'journal: cannot save the checkpoint (records will be replayed)')
      return
    }
    let deleted = false
    while (this.segments.length > 1) {
      const [first, second] = this.segments as [Segment, Segment]
      if (!first.sealed || second.firstSeq - 1 > seq || this.reader.cursor.firstSeq === first.firstSeq) break
      this.segments.shift()
      await this.reader.release(first.firstSeq)
      await unlink(first.path).catch((err: unknown) => this.opts.log.warn({ err }, 'journal: cannot delete a written segment'))
      deleted = true
    }
    // Space was freed: tell the free-space estimate now rather than at the next tick.
    if (deleted && this.space.low) void this.space.check()
    this.reclaim()
  }

  /**
   * While the disk is short of space (below JOURNAL_MIN_FREE_BYTES, or a write refused), empties
   * the active segment once it is the only one left and everything in it is read, written to
   * storage and checkpointed: rotating would need a new file and would wait for the very appends
   * that lack the room, so the file is truncated in place between writes and the waiting appends
   * are written from its start. The segment keeps its name (its first sequence number is then a
   * lower bound, which is all that ordering and deletion rely on).
   */
  private reclaim(): void {
    if (this.reclaiming || this.closing) return
    const pressure = this.pressure()
    if (!pressure.lowDiskSpace && !pressure.writeFailing) return
    const segment = this.writingSegment
    const file = this.active
    const consumed = () =>
      this.segments[0] === segment &&
      segment.size > 0 &&
      file.size === segment.size &&
      this.reader.cursor.firstSeq === segment.firstSeq &&
      this.reader.cursor.offset === segment.size &&
      this.tracker.idle &&
      this.checkpoint.seq === this.tracker.checkpointSeq
    if (!consumed()) return
    this.reclaiming = true
    const freed = segment.size
    void file
      .reset(consumed, () => {
        // Runs before anything more is written to the file: the reader starts again at its start.
        segment.size = 0
        this.tail.clear()
        this.reader.cursor = { firstSeq: segment.firstSeq, offset: 0 }
        if (this.activeSegment === segment) this.activeBytes = Math.max(0, this.activeBytes - freed)
      })
      .then((done) => {
        this.reclaiming = false
        if (!done) return
        this.opts.log.warn({ segment: segment.path, freedBytes: freed }, 'journal: disk short of space; emptied the active segment, all of it written to storage')
        void this.space.check()
      })
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
    this.closing = true
    this.space.stop()
    this.flushTick()
    // A write the disk refuses now fails its appends (never acknowledged) instead of holding the shutdown forever.
    this.active.giveUpRetries()
    await this.rotating
    this.active.giveUpRetries()
    await this.active.close()
    clearTimeout(this.checkpointTimer)
    this.checkpointTimer = undefined
    await this.checkpointWrite
    await this.persistCheckpoint()
    await this.reader.close()
    await this.checkpoint.close()
  }
}
