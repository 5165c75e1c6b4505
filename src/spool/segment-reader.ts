import { open, type FileHandle } from 'node:fs/promises'
import type { Logger } from 'pino'
import { decodeRecord, HEADER_BYTES, type JournalRecord } from './record-codec.js'
import type { Segment } from './segment-files.js'
import type { TailCache } from './tail-cache.js'

const READ_CHUNK = 1024 * 1024
/**
 * A chunk already read is decoded on from where the last read stopped while at least this much of
 * it is left (or it holds everything durable): a read takes a few records, and reading a fresh
 * megabyte for each one (kept alive by its records until they are written) was most of the
 * service's Buffer memory while draining a backlog.
 */
const MIN_CACHED_REST = 64 * 1024

/** Where the next read starts: a segment (by its first sequence number) and a byte offset in it. */
export interface Cursor {
  readonly firstSeq: number
  offset: number
}

export interface ReadRecords {
  readonly records: JournalRecord[]
  readonly lineCount: number
  readonly messages: number
  readonly bytes: number
}

/**
 * Reads the segments' durable records in order from the cursor, a chunk at a
 * time, with one segment file open at once (segment-journal.ts owns the
 * segments and what a read means for the checkpoint).
 */
export class SegmentReader {
  private handle: { firstSeq: number; fh: FileHandle } | undefined
  /** The last chunk read: `buf` holds the segment's bytes from `start`. */
  private chunk: { firstSeq: number; start: number; buf: Buffer } | undefined
  private at: Cursor

  constructor(
    cursor: Cursor,
    private readonly log: Logger,
    /** The newest records, still in memory: read from there when the cursor is at one (tail-cache.ts). */
    private readonly tail?: TailCache,
  ) {
    this.at = cursor
  }

  get cursor(): Cursor {
    return this.at
  }

  /** Moving the cursor from outside (recovery, a segment emptied and written again) forgets the chunk read. */
  set cursor(c: Cursor) {
    this.at = c
    this.chunk = undefined
  }

  /** The next durable records after the cursor, up to about `maxLines` lines; none when there are none. */
  async read(segments: readonly Segment[], maxLines: number): Promise<ReadRecords> {
    const records: JournalRecord[] = []
    let lineCount = 0
    let bytes = 0
    let messages = 0
    while (lineCount < maxLines) {
      const index = segments.findIndex((s) => s.firstSeq === this.cursor.firstSeq)
      const segment = segments[index]
      if (!segment) break
      if (this.cursor.offset >= segment.size) {
        const next = segments[index + 1]
        if (segment.sealed && next) {
          this.at = { firstSeq: next.firstSeq, offset: 0 }
          continue
        }
        break
      }
      const chunk = await this.bytesFrom(segment, this.cursor.offset)
      if (chunk.length === 0) {
        // The file is shorter than its durable size says: never spin on it; report and stop this read.
        this.log.error({ segment: segment.path, offset: this.cursor.offset, size: segment.size }, 'journal: segment shorter than expected')
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
          this.log.error({ segment: segment.path, offset: this.cursor.offset, why: r.why }, 'journal: corrupt record; skipping the rest of the segment')
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
    return { records, lineCount, bytes, messages }
  }

  /** The durable bytes of `segment` from `offset` on (up to a chunk): a record still in memory, the rest of the last chunk read, or a fresh one. */
  private async bytesFrom(segment: Segment, offset: number): Promise<Buffer> {
    const cached = this.tail?.take(segment.firstSeq, offset, segment.size)
    if (cached) return cached
    const c = this.chunk
    if (c && c.firstSeq === segment.firstSeq && offset >= c.start) {
      const end = c.start + c.buf.length
      if (offset < end && (end - offset >= MIN_CACHED_REST || end >= segment.size)) return c.buf.subarray(offset - c.start)
    }
    const buf = await this.readChunk(segment, offset, Math.min(segment.size - offset, READ_CHUNK))
    this.chunk = buf.length > 0 ? { firstSeq: segment.firstSeq, start: offset, buf } : undefined
    return buf
  }

  private async readChunk(segment: Segment, offset: number, length: number): Promise<Buffer> {
    if (this.handle?.firstSeq !== segment.firstSeq) {
      await this.handle?.fh.close()
      this.handle = { firstSeq: segment.firstSeq, fh: await open(segment.path, 'r') }
    }
    const buf = Buffer.allocUnsafe(length)
    const { bytesRead } = await this.handle.fh.read(buf, 0, length, offset)
    return buf.subarray(0, bytesRead)
  }

  /** Closes the file of a segment about to be deleted, if it is the one open. */
  async release(firstSeq: number): Promise<void> {
    if (this.chunk?.firstSeq === firstSeq) this.chunk = undefined
    if (this.handle?.firstSeq !== firstSeq) return
    await this.handle.fh.close()
    this.handle = undefined
  }

  async close(): Promise<void> {
    this.chunk = undefined
    await this.handle?.fh.close()
    this.handle = undefined
  }
}
