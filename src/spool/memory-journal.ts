import { CheckpointTracker, type Journal, type JournalPressure, type JournalStats, type RecordBatch } from './journal.js'
import { encodeFrame } from './message-frame.js'
import { HEADER_BYTES, type JournalRecord } from './record-codec.js'

/**
 * The same contract as the segment journal, in memory and without fsync:
 * for `JOURNAL_ENABLED=false` (a QoS 1 PUBACK then means "accepted", not
 * "durable"; a crash loses what was not yet written) and for the bench's
 * durability-cost baseline. Bounded by `maxBytes` like the real one.
 */
export class MemoryJournal implements Journal {
  private readonly queue: JournalRecord[] = []
  private readIndex = 0
  private nextSeq = 1
  private unwrittenBytes = 0
  private appendedRecords = 0
  private dataWaiters: (() => void)[] = []
  private roomWaiters: (() => void)[] = []
  private readonly tracker: CheckpointTracker

  constructor(private readonly maxBytes: number) {
    this.tracker = new CheckpointTracker(0, (seq, bytes) => {
      this.unwrittenBytes -= bytes
      // Drop retired records from the front of the queue.
      let drop = 0
      while (drop < this.readIndex && this.queue[drop]!.seq <= seq) drop++
      this.queue.splice(0, drop)
      this.readIndex -= drop
      if (!this.full) {
        const waiters = this.roomWaiters
        this.roomWaiters = []
        for (const w of waiters) w()
      }
    })
  }

  /** Nothing survives a restart in memory: nothing is replayed. */
  readonly replayBelowSeq = 1

  get full(): boolean {
    return this.unwrittenBytes >= this.maxBytes
  }

  pressure(): JournalPressure {
    return { overLimit: this.full, lowDiskSpace: false, writeFailing: false, diskFreeBytes: undefined }
  }

  append(lines: readonly string[]): Promise<void> {
    const payload = Buffer.from(lines.join('\n'))
    return this.push({ format: 'lines', seq: this.nextSeq++, appendMs: Date.now(), lineCount: lines.length, messages: 1, payload, bytes: HEADER_BYTES + payload.length })
  }

  appendFrame(frame: Buffer, estimatedLines: number): Promise<void> {
    return this.push({ format: 'frames', seq: this.nextSeq++, appendMs: Date.now(), lineCount: estimatedLines, messages: 1, payload: frame, bytes: HEADER_BYTES + frame.length })
  }

  appendMessage(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer, estimatedLines: number): Promise<void> {
    return this.appendFrame(encodeFrame(topic, gatewayId, qos, receivedMs, payload), estimatedLines)
  }

  private push(record: JournalRecord): Promise<void> {
    this.queue.push(record)
    this.unwrittenBytes += record.bytes
    this.appendedRecords++
    const waiters = this.dataWaiters
    this.dataWaiters = []
    for (const w of waiters) w()
    return Promise.resolve()
  }

  waitForRoom(): Promise<void> {
    return this.full ? new Promise((resolve) => this.roomWaiters.push(resolve)) : Promise.resolve()
  }

  async read(maxLines: number): Promise<RecordBatch | undefined> {
    const records: JournalRecord[] = []
    let lineCount = 0
    let bytes = 0
    while (this.readIndex < this.queue.length && lineCount < maxLines) {
      const r = this.queue[this.readIndex++]!
      records.push(r)
      lineCount += r.lineCount
      bytes += r.bytes
    }
    if (records.length === 0) return undefined
    const batch = { records, lineCount, bytes, messages: records.length }
    this.tracker.register(batch)
    return batch
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

  complete(batch: RecordBatch): void {
    this.tracker.complete(batch)
  }

  stats(): JournalStats {
    return {
      unwrittenRecords: this.queue.length,
      unwrittenBytes: this.unwrittenBytes,
      oldestUnwrittenMs: this.queue[0]?.appendMs,
      appendedRecords: this.appendedRecords,
      checkpointSeq: this.tracker.checkpointSeq,
    }
  }

  async close(): Promise<void> {}
}
