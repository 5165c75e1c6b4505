import { crc32 } from 'node:zlib'

/**
 * One journal record: the messages received in one tick of the event loop
 * (typically one socket chunk's publishes), either as received (frames,
 * message-frame.ts: what the service writes) or, in records written before
 * the journal became log-first, as line protocol.
 *
 *   offset  size  field
 *   0       4     payload length (bytes, u32 LE)
 *   4       4     CRC-32 of bytes 8..end (header rest + payload)
 *   8       8     sequence number (f64 LE; exact up to 2^53)
 *   16      8     append time, Unix ms (f64 LE)
 *   24      4     lines in the payload; for frames, the points expected from their size (u32 LE)
 *   28      4     messages in the record (bits 0-30; 0, in records written before it was counted,
 *                 means 1); bit 31 set: the payload is frames
 *   32      n     payload: UTF-8 lines joined by "\n", or frames end to end
 *
 * A torn or corrupt record (bad length or CRC) ends the readable log: it was
 * never acknowledged, because acknowledgement waits for fdatasync.
 */
export const HEADER_BYTES = 32
export const MAX_RECORD_BYTES = 64 * 1024 * 1024

/** Bit 31 of the messages field: the payload is message frames, not line protocol. */
const FRAMES_FLAG = 0x80000000

export type RecordFormat = 'lines' | 'frames'

export interface JournalRecord {
  readonly format: RecordFormat
  readonly seq: number
  readonly appendMs: number
  /** Lines; for frames, an estimate of the points they carry (for sizing reads). */
  readonly lineCount: number
  /** Messages the record holds. */
  readonly messages: number
  /**
   * Frames end to end, or lines joined by "\n", UTF-8 (a valid line-protocol body). A view into the
   * buffer the record was read from: kept as bytes, off the V8 heap, until it is sent.
   */
  readonly payload: Buffer
  /** Size on disk, header included. */
  readonly bytes: number
}

export function encodeRecord(seq: number, appendMs: number, lines: readonly string[], messages = 1): Buffer {
  const text = lines.join('\n')
  const payloadBytes = Buffer.byteLength(text)
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes)
  buf.writeUInt32LE(payloadBytes, 0)
  buf.writeDoubleLE(seq, 8)
  buf.writeDoubleLE(appendMs, 16)
  buf.writeUInt32LE(lines.length, 24)
  buf.writeUInt32LE(messages, 28)
  buf.write(text, HEADER_BYTES, 'utf8')
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4)
  return buf
}

/** A record of message frames (message-frame.ts), end to end. */
export function encodeFrameRecord(seq: number, appendMs: number, frames: readonly Buffer[], estimatedLines: number): Buffer {
  let payloadBytes = 0
  for (const f of frames) payloadBytes += f.length
  const buf = frameRecordShell(seq, appendMs, payloadBytes, frames.length, estimatedLines)
  let pos = HEADER_BYTES
  for (const f of frames) pos += f.copy(buf, pos)
  return sealRecord(buf)
}

/**
 * A frames record's buffer with its header written, `payloadBytes` of payload left for the caller
 * to fill from HEADER_BYTES (tick-record.ts writes each frame straight in); `sealRecord` once filled.
 */
export function frameRecordShell(seq: number, appendMs: number, payloadBytes: number, messages: number, estimatedLines: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes)
  buf.writeUInt32LE(payloadBytes, 0)
  buf.writeDoubleLE(seq, 8)
  buf.writeDoubleLE(appendMs, 16)
  buf.writeUInt32LE(Math.min(estimatedLines, 0xffffffff), 24)
  buf.writeUInt32LE((messages | FRAMES_FLAG) >>> 0, 28)
  return buf
}

/** Writes the checksum of a record whose header and payload are complete. */
export function sealRecord(buf: Buffer): Buffer {
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4)
  return buf
}

export type DecodeResult = { kind: 'record'; record: JournalRecord } | { kind: 'incomplete' } | { kind: 'corrupt'; why: string }

/** Decodes the record at `offset` of `buf`. `incomplete`: the buffer ends inside the record. */
export function decodeRecord(buf: Buffer, offset: number): DecodeResult {
  if (buf.length - offset < HEADER_BYTES) return { kind: 'incomplete' }
  const payloadBytes = buf.readUInt32LE(offset)
  if (payloadBytes > MAX_RECORD_BYTES) return { kind: 'corrupt', why: `record length ${payloadBytes} is implausible` }
  const end = offset + HEADER_BYTES + payloadBytes
  if (end > buf.length) return { kind: 'incomplete' }
  const expected = buf.readUInt32LE(offset + 4)
  if (crc32(buf.subarray(offset + 8, end)) !== expected) return { kind: 'corrupt', why: 'checksum mismatch' }
  const messagesField = buf.readUInt32LE(offset + 28)
  return {
    kind: 'record',
    record: {
      format: messagesField & FRAMES_FLAG ? 'frames' : 'lines',
      seq: buf.readDoubleLE(offset + 8),
      appendMs: buf.readDoubleLE(offset + 16),
      lineCount: buf.readUInt32LE(offset + 24),
      messages: (messagesField & ~FRAMES_FLAG) || 1,
      payload: buf.subarray(offset + HEADER_BYTES, end),
      bytes: HEADER_BYTES + payloadBytes,
    },
  }
}
