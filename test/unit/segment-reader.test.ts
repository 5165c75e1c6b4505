import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { RecordBatch } from '../../src/spool/journal.js'
import { SegmentJournal } from '../../src/spool/segment-journal.js'
import { useTempDir } from '../helpers/temp-dir.js'

const log = pino({ level: 'silent' })
let dir: string
useTempDir('iiot-reader-', (d) => (dir = d))

// About 1 KB a record: the chunks are larger than Buffer's shared pool, so each read of its own would be its own allocation.
const pad = 'x'.repeat(500)
const lines = (i: number) => [`m,t=a${pad} v=${i} ${1000 + i}`, `m,t=b${pad} v=${i} ${1000 + i}`]

describe('segment reader', () => {
  it('decodes small reads from the chunk it already read, and reads again only for what was appended after it', async () => {
    const j = await SegmentJournal.open({ dir, maxBytes: 1 << 24, segmentBytes: 1 << 24, log })
    for (let i = 0; i < 20; i++) await j.append(lines(i))
    const batches: RecordBatch[] = []
    for (let k = 0; k < 5; k++) batches.push((await j.read(2))!)
    // One record (two lines) per read; all five are views of one chunk, not five chunks of their own.
    expect(batches.map((b) => b.records.map((r) => r.seq))).toEqual([[1], [2], [3], [4], [5]])
    expect(new Set(batches.map((b) => b.records[0]!.payload.buffer)).size).toBe(1)
    // Appended after that chunk was read: the reads go on through the rest, then read the new records.
    for (let i = 20; i < 30; i++) await j.append(lines(i))
    const seqs: number[] = []
    for (let b = await j.read(4); b; b = await j.read(4)) {
      for (const r of b.records) {
        seqs.push(r.seq)
        expect(r.payload.toString()).toBe(lines(r.seq - 1).join('\n'))
      }
    }
    expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 6))
    await j.close()
  })
})
