import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { CheckpointFile, CHECKPOINT_FILE, CHECKPOINT_SLOT_BYTES } from '../../src/spool/checkpoint-file.js'
import { canMountSmallDisk, mountSmallDisk, warnIfCannotMount } from '../helpers/small-disk.js'
import { useTempDir } from '../helpers/temp-dir.js'

const log = pino({ level: 'silent' })
let dir: string
useTempDir('iiot-checkpoint-', (d) => (dir = d))

describe('checkpoint file', () => {
  it('starts at 0 and keeps the last sequence number written across reopening', async () => {
    const c = await CheckpointFile.open(dir, log)
    expect(c.seq).toBe(0)
    await c.write(5)
    await c.write(7)
    expect(c.seq).toBe(7)
    await c.close()
    const again = await CheckpointFile.open(dir, log)
    expect(again.seq).toBe(7)
    await again.close()
  })

  it('takes over the checkpoint.json of earlier versions and removes it', async () => {
    await writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ seq: 42 }) + '\n')
    await writeFile(join(dir, 'checkpoint.json.tmp'), '')
    const c = await CheckpointFile.open(dir, log)
    expect(c.seq).toBe(42)
    await c.close()
    expect((await readdir(dir)).sort()).toEqual([CHECKPOINT_FILE])
    const again = await CheckpointFile.open(dir, log)
    expect(again.seq).toBe(42)
    await again.close()
  })

  it('falls back to the previous checkpoint when the newest slot is torn', async () => {
    const c = await CheckpointFile.open(dir, log)
    await c.write(5)
    await c.write(9)
    await c.close()
    // Slots alternate: generation 2 (seq 5) went to slot 0 and generation 3 (seq 9) to slot 1; tear slot 1.
    const fh = await open(join(dir, CHECKPOINT_FILE), 'r+')
    await fh.write(Buffer.from([0xff, 0xff, 0xff]), 0, 3, CHECKPOINT_SLOT_BYTES + 12)
    await fh.close()
    const again = await CheckpointFile.open(dir, log)
    expect(again.seq).toBe(5)
    // The next write goes to the torn slot, never over the one still valid.
    await again.write(11)
    await again.close()
    const third = await CheckpointFile.open(dir, log)
    expect(third.seq).toBe(11)
    await third.close()
  })

  it('writes in place: the same file, the same size, no other file', async () => {
    const c = await CheckpointFile.open(dir, log)
    const before = await stat(join(dir, CHECKPOINT_FILE))
    for (let seq = 1; seq <= 50; seq++) await c.write(seq)
    const after = await stat(join(dir, CHECKPOINT_FILE))
    expect([after.ino, after.size]).toEqual([before.ino, before.size])
    expect(await readdir(dir)).toEqual([CHECKPOINT_FILE])
    await c.close()
  })

  warnIfCannotMount('checkpoint on a full disk')
  it.skipIf(!canMountSmallDisk)('is written on a disk that is full, where a new file cannot be', async () => {
    const disk = await mountSmallDisk(256 * 1024)
    try {
      const c = await CheckpointFile.open(disk.dir, log)
      await disk.fill()
      // What the journal did before: a temporary file renamed over the old one. It cannot be written now.
      await expect(writeFile(join(disk.dir, 'checkpoint.json.tmp'), JSON.stringify({ seq: 1234 }))).rejects.toMatchObject({ code: 'ENOSPC' })
      await c.write(1234)
      await c.close()
      const again = await CheckpointFile.open(disk.dir, log)
      expect(again.seq).toBe(1234)
      await again.close()
      expect((await readFile(join(disk.dir, CHECKPOINT_FILE))).length).toBe(2 * CHECKPOINT_SLOT_BYTES)
    } finally {
      await disk.dispose()
    }
  })
})
