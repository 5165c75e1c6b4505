import type { JournalRecord } from './record-codec.js'

/** Consecutive records handed to the drainer as one write. */
export interface RecordBatch {
  readonly records: readonly JournalRecord[]
  readonly lineCount: number
  /** Messages the records hold. */
  readonly messages: number
  readonly bytes: number
}

export interface JournalStats {
  /** Messages appended and not yet written to storage. */
  readonly unwrittenRecords: number
  readonly unwrittenBytes: number
  /** Append time of the oldest record not yet written, if any. */
  readonly oldestUnwrittenMs: number | undefined
  /** Messages appended since start. */
  readonly appendedRecords: number
  readonly checkpointSeq: number
}

/** Why the journal is full, for /readyz and the operator (docs/delivery.md). */
export interface JournalPressure {
  /** Unwritten data at or above JOURNAL_MAX_BYTES (or more waiting for its sync than memory allows). */
  readonly overLimit: boolean
  /** The journal's disk has less than JOURNAL_MIN_FREE_BYTES free, or refused a write for want of space. */
  readonly lowDiskSpace: boolean
  /** Writes fail (disk full, I/O error) and are being retried. */
  readonly writeFailing: boolean
  /** Free bytes on the journal's disk (estimated between checks); undefined when not on a disk or unknown. */
  readonly diskFreeBytes: number | undefined
}

/**
 * The journal between acknowledgement and storage (docs/delivery.md).
 * Writers append; the drainer reads in order and reports what storage
 * accepted; the checkpoint advances only over contiguous completions.
 */
export interface Journal {
  /** Appends one message's points as line protocol; resolves once they are durable. */
  append(lines: readonly string[]): Promise<void>
  /**
   * Appends one message as received (message-frame.ts), expected to carry about `estimatedLines`
   * points; resolves once it is durable. Its decoding comes later, from the journal.
   */
  appendFrame(frame: Buffer, estimatedLines: number): Promise<void>
  /**
   * The same as `appendFrame(encodeFrame(topic, gatewayId, qos, receivedMs, payload), estimatedLines)`, without
   * a buffer per message: the journal writes the frame straight into its record. Throws a RangeError for a
   * topic or gateway id too long for a frame.
   */
  appendMessage(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer, estimatedLines: number): Promise<void>
  /**
   * Records with a lower sequence number were appended before this process started: they are
   * being replayed, and may have been decoded (and their rejections kept) before a crash.
   */
  readonly replayBelowSeq: number
  /** True above the size limit, below the free-space threshold, or while the disk refuses writes. */
  readonly full: boolean
  /** Which of those holds. */
  pressure(): JournalPressure
  /** Resolves when the journal is no longer full. */
  waitForRoom(): Promise<void>
  /** The next durable records after the read cursor, up to about `maxLines` lines; undefined when there are none. */
  read(maxLines: number): Promise<RecordBatch | undefined>
  /** Resolves when new durable records may have arrived, or after `timeoutMs`. */
  waitForData(timeoutMs: number): Promise<void>
  /** Storage accepted (or finally rejected) this batch. */
  complete(batch: RecordBatch): void
  stats(): JournalStats
  /** Flushes the checkpoint and closes files. */
  close(): Promise<void>
}

/**
 * Out-of-order completions, in-order checkpoint: batches are registered as
 * they are read and retired from the front once done.
 */
export class CheckpointTracker {
  private readonly inFlight: { batch: RecordBatch; done: boolean }[] = []

  constructor(
    public checkpointSeq: number,
    private readonly onAdvance: (seq: number, bytes: number, records: number) => void,
  ) {}

  /** No batch read and not yet retired. */
  get idle(): boolean {
    return this.inFlight.length === 0
  }

  register(batch: RecordBatch): void {
    this.inFlight.push({ batch, done: false })
  }

  complete(batch: RecordBatch): void {
    const entry = this.inFlight.find((e) => e.batch === batch)
    if (!entry) return
    entry.done = true
    let bytes = 0
    let records = 0
    while (this.inFlight[0]?.done) {
      const { batch: b } = this.inFlight.shift()!
      this.checkpointSeq = b.records.at(-1)!.seq
      bytes += b.bytes
      records += b.messages
    }
    if (records > 0) this.onAdvance(this.checkpointSeq, bytes, records)
  }

  /** Append time of the oldest record read but not yet retired. */
  oldestInFlightMs(): number | undefined {
    return this.inFlight[0]?.batch.records[0]?.appendMs
  }
}
