import { open, readdir, readFile, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { decodeRecord } from './record-codec.js'

/**
 * The segment journal's files on disk: their names, the earlier versions'
 * checkpoint file, the directory sync a new file needs, and the start-up scan that finds what was
 * not yet written (segment-journal.ts does the appending and reading).
 */
export interface Segment {
  readonly firstSeq: number
  readonly path: string
  /** Bytes durably written (final once sealed). */
  size: number
  sealed: boolean
}

const SEGMENT_RE = /^segment-(\d{16})\.log$/

export function segmentPath(dir: string, firstSeq: number): string {
  return join(dir, `segment-${String(firstSeq).padStart(16, '0')}.log`)
}

export async function syncDir(dir: string): Promise<void> {
  // A new file's directory entry must be durable too, or a crash could lose the whole segment.
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** The checkpoint as earlier versions kept it (checkpoint-file.ts takes it over). */
export async function readCheckpoint(dir: string): Promise<number> {
  try {
    const { seq } = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as { seq: unknown }
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : 0
  } catch {
    return 0
  }
}

export interface Recovered {
  segments: Segment[]
  nextSeq: number
  unwrittenBytes: number
  unwrittenRecords: number
  oldestMs: number | undefined
  cursor: { firstSeq: number; offset: number } | undefined
}

/** Scans the segments after the checkpoint, truncating a torn tail (never acknowledged). */
export async function recover(opts: { readonly dir: string; readonly log: Logger }, checkpointSeq: number): Promise<Recovered> {
  const names = (await readdir(opts.dir)).filter((n) => SEGMENT_RE.test(n)).sort()
  const firstSeqs = names.map((n) => Number(SEGMENT_RE.exec(n)![1]))
  const out: Recovered = { segments: [], nextSeq: checkpointSeq + 1, unwrittenBytes: 0, unwrittenRecords: 0, oldestMs: undefined, cursor: undefined }
  for (let i = 0; i < names.length; i++) {
    const path = join(opts.dir, names[i]!)
    const nextFirst = firstSeqs[i + 1]
    if (nextFirst !== undefined && nextFirst - 1 <= checkpointSeq) {
      await unlink(path)
      continue
    }
    const buf = await readFile(path)
    let pos = 0
    while (pos < buf.length) {
      const r = decodeRecord(buf, pos)
      if (r.kind !== 'record') {
        const why = r.kind === 'corrupt' ? r.why : 'incomplete record'
        if (i === names.length - 1) opts.log.warn({ segment: path, droppedBytes: buf.length - pos, why }, 'journal: torn tail dropped (it was never acknowledged)')
        else opts.log.error({ segment: path, droppedBytes: buf.length - pos, why }, 'journal: damaged segment truncated')
        await truncate(path, pos)
        break
      }
      const rec = r.record
      if (rec.seq > checkpointSeq) {
        out.cursor ??= { firstSeq: firstSeqs[i]!, offset: pos }
        out.unwrittenBytes += rec.bytes
        out.unwrittenRecords += rec.messages
        out.oldestMs ??= rec.appendMs
      }
      out.nextSeq = Math.max(out.nextSeq, rec.seq + 1)
      pos += rec.bytes
    }
    if (pos === 0) {
      await unlink(path)
      continue
    }
    out.segments.push({ firstSeq: firstSeqs[i]!, path, size: pos, sealed: true })
  }
  return out
}
