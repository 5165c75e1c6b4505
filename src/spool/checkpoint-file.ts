import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { Logger } from 'pino'
import { readCheckpoint, syncDir } from './segment-files.js'

export const CHECKPOINT_FILE = 'checkpoint.dat'
/** One slot per sector, so that a torn write can damage only the slot being written. */
export const CHECKPOINT_SLOT_BYTES = 512

/**
 *   offset  size  field (one slot)
 *   0       4     magic "IICP"
 *   4       4     format version (u32 LE, 1)
 *   8       8     generation (f64 LE): which slot is newer
 *   16      8     checkpoint sequence number (f64 LE)
 *   24      4     CRC-32 of bytes 0..24
 */
const MAGIC = 0x50434949
const VERSION = 1
const SLOT_USED = 28

/**
 * The journal's checkpoint (the last sequence number InfluxDB accepted,
 * contiguously) in a file of two fixed slots, created once at full size and
 * then only overwritten in place, alternately, each write followed by
 * fdatasync. Why: a full disk must not stop the checkpoint, or drained
 * segments could never be released (a temporary file renamed over the old
 * one needs new blocks); and a torn write leaves the other slot, which holds
 * the previous checkpoint, so the checkpoint is never lost (an older one only
 * replays a little more). See docs/delivery.md, "A full disk".
 */
export class CheckpointFile {
  private constructor(
    private readonly fh: FileHandle,
    private generation: number,
    private current: number,
  ) {}

  /** The sequence number last written (durably). */
  get seq(): number {
    return this.current
  }

  static async open(dir: string, log: Logger): Promise<CheckpointFile> {
    const path = join(dir, CHECKPOINT_FILE)
    let fh: FileHandle
    try {
      fh = await open(path, 'r+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      await create(dir, await readCheckpoint(dir))
      fh = await open(path, 'r+')
    }
    const buf = Buffer.alloc(2 * CHECKPOINT_SLOT_BYTES)
    await fh.read(buf, 0, buf.length, 0)
    const slots = [decodeSlot(buf, 0), decodeSlot(buf, CHECKPOINT_SLOT_BYTES)].filter((s) => s !== undefined)
    const newest = slots.sort((a, b) => b.generation - a.generation)[0]
    if (!newest) log.error({ path }, 'journal: no valid checkpoint slot; replaying every segment kept')
    // The earlier format's files are left over only by an upgrade; this one has taken over.
    for (const old of ['checkpoint.json', 'checkpoint.json.tmp']) await unlink(join(dir, old)).catch(() => undefined)
    return new CheckpointFile(fh, newest?.generation ?? 0, newest?.seq ?? 0)
  }

  /** Overwrites the older slot with `seq`; resolves once it is durable. */
  async write(seq: number): Promise<void> {
    const generation = this.generation + 1
    const slot = encodeSlot(generation, seq)
    await this.fh.write(slot, 0, slot.length, (generation % 2) * CHECKPOINT_SLOT_BYTES)
    await this.fh.datasync()
    this.generation = generation
    this.current = seq
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}

/** The file at full size, made complete under a temporary name and renamed: it exists whole or not at all. */
async function create(dir: string, seq: number): Promise<void> {
  const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`)
  const buf = Buffer.alloc(2 * CHECKPOINT_SLOT_BYTES)
  encodeSlot(1, seq).copy(buf, CHECKPOINT_SLOT_BYTES)
  const fh = await open(tmp, 'w')
  try {
    await fh.write(buf, 0, buf.length, 0)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, join(dir, CHECKPOINT_FILE))
  await syncDir(dir)
}

function encodeSlot(generation: number, seq: number): Buffer {
  const buf = Buffer.alloc(CHECKPOINT_SLOT_BYTES)
  buf.writeUInt32LE(MAGIC, 0)
  buf.writeUInt32LE(VERSION, 4)
  buf.writeDoubleLE(generation, 8)
  buf.writeDoubleLE(seq, 16)
  buf.writeUInt32LE(crc32(buf.subarray(0, 24)), 24)
  return buf
}

function decodeSlot(buf: Buffer, offset: number): { generation: number; seq: number } | undefined {
  const slot = buf.subarray(offset, offset + SLOT_USED)
  if (slot.length < SLOT_USED || slot.readUInt32LE(0) !== MAGIC || slot.readUInt32LE(4) !== VERSION) return undefined
  if (crc32(slot.subarray(0, 24)) !== slot.readUInt32LE(24)) return undefined
  const generation = slot.readDoubleLE(8)
  const seq = slot.readDoubleLE(16)
  if (!Number.isSafeInteger(generation) || !Number.isSafeInteger(seq) || seq < 0) return undefined
  return { generation, seq }
}
