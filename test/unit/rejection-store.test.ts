import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultRejectionFiles, RejectionStore, type RejectionFiles, type RejectionInput } from '../../src/pipeline/rejection-store.js'

const log = pino({ level: 'silent' })
let dir: string
let path: string
const opened: RejectionStore[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iiot-rejections-'))
  path = join(dir, 'rejections.jsonl')
})

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined)
  await rm(dir, { recursive: true, force: true })
})

async function open(max: number, files?: Partial<RejectionFiles>): Promise<RejectionStore> {
  const store = await RejectionStore.open(path, { max, payloadBytes: 16, ...(files ? { files } : {}) }, log)
  opened.push(store)
  return store
}

const input = (n: number): RejectionInput => ({ topic: `iiot/v1/za/fa/l1/m1/telemetry`, gateway: 'gw-a', zone: 'za', factory: 'fa', reason: 'decode_error', message: `bad ${n}`, payload: Buffer.from(`payload ${n}`) })

/** The messages of the records in the file, every line of which must parse. */
async function onDisk(): Promise<string[]> {
  const text = await readFile(path, 'utf8')
  expect(text === '' || text.endsWith('\n')).toBe(true)
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => (JSON.parse(l) as { message: string }).message)
}

const listed = (s: RejectionStore) => s.list({ limit: 100 }).map((r) => r.message).reverse()

/** Records written around a compaction can appear twice in the file; a reopened store keeps each once. */
async function reopened(max: number): Promise<string[]> {
  const again = await open(max)
  return listed(again)
}

describe('RejectionStore', () => {
  it('keeps records across a reopen, with ids that go on growing', async () => {
    const a = await open(10)
    await Promise.all([1, 2, 3].map((n) => a.add(input(n))))
    await a.close()
    const b = await open(10)
    expect(listed(b)).toEqual(['bad 1', 'bad 2', 'bad 3'])
    await b.add(input(4))
    const ids = b.list({ limit: 10 }).map((r) => r.id)
    expect(ids).toEqual([4, 3, 2, 1])
    expect(await onDisk()).toEqual(['bad 1', 'bad 2', 'bad 3', 'bad 4'])
  })

  it('add() rejects when the record cannot be written; the record is not listed; the next add is written', async () => {
    let failNext = false
    const store = await open(10, {
      openAppend: async (p) => {
        const real = await defaultRejectionFiles.openAppend(p)
        return {
          ...real,
          write: (bytes: Buffer) => {
            if (failNext) {
              failNext = false
              return Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }))
            }
            return real.write(bytes)
          },
        }
      },
    })
    await store.add(input(1))
    failNext = true
    await expect(store.add(input(2))).rejects.toThrow(/EIO/)
    expect(listed(store)).toEqual(['bad 1'])
    await store.add(input(3))
    expect(listed(store)).toEqual(['bad 1', 'bad 3'])
    expect(await onDisk()).toEqual(['bad 1', 'bad 3'])
  })

  it('add() rejects when compaction cannot replace the file; the ring is not lost and the next add compacts again', async () => {
    const store = await open(2)
    for (let n = 1; n <= 4; n++) await store.add(input(n))
    // The file holds 2 * max lines: the next add compacts. A directory where the file was makes the rename fail, even as root.
    await rm(path)
    await mkdir(path)
    await expect(store.add(input(5))).rejects.toThrow()
    expect(listed(store)).toEqual(['bad 3', 'bad 4'])
    await rm(path, { recursive: true })
    await store.add(input(6))
    expect(listed(store)).toEqual(['bad 4', 'bad 6'])
    expect(await onDisk()).toEqual(['bad 4', 'bad 6'])
    expect(await reopened(2)).toEqual(['bad 4', 'bad 6'])
    expect(await readdir(dir)).toEqual(['rejections.jsonl'])
  })

  it('compaction fsyncs the temporary file before the rename and the directory after it', async () => {
    const steps: string[] = []
    const real = defaultRejectionFiles
    const store = await open(2, {
      writeSynced: async (p, bytes) => {
        steps.push('write+fsync temp')
        await real.writeSynced(p, bytes)
      },
      rename: async (from, to) => {
        steps.push('rename')
        await real.rename(from, to)
      },
      syncDir: async (d) => {
        steps.push('fsync dir')
        await real.syncDir(d)
      },
    })
    for (let n = 1; n <= 4; n++) await store.add(input(n))
    steps.length = 0
    await store.add(input(5))
    expect(steps).toEqual(['write+fsync temp', 'rename', 'fsync dir'])
    expect(await onDisk()).toEqual(['bad 4', 'bad 5'])
  })

  for (const crashAt of ['writeSynced', 'rename', 'syncDir'] as const) {
    it(`a crash during compaction (at ${crashAt}) leaves a complete file holding every acknowledged record`, async () => {
      let armed = false
      const real = defaultRejectionFiles[crashAt] as (...args: unknown[]) => Promise<void>
      const crash = async (...args: unknown[]) => {
        if (armed) throw new Error(`simulated crash at ${crashAt}`)
        await real(...args)
      }
      const store = await open(2, { [crashAt]: crash })
      for (let n = 1; n <= 4; n++) await store.add(input(n))
      // The file holds 2 * max lines: the next add compacts, and the step fails as if the process died there.
      armed = true
      await expect(store.add(input(5))).rejects.toThrow(/simulated crash/)
      // What a restart finds: a file every line of which parses, with every acknowledged record still in the last N.
      const lines = await onDisk()
      expect(lines.length).toBeGreaterThanOrEqual(2)
      const after = await reopened(2)
      expect(after.slice(-2)).toEqual(crashAt === 'syncDir' ? ['bad 4', 'bad 5'] : ['bad 3', 'bad 4'])
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([])
    })
  }

  it('a torn last line (a write cut by a crash) is dropped at open, so the next record starts a line of its own', async () => {
    const a = await open(10)
    await a.add(input(1))
    await a.close()
    await appendFile(path, '{"id":2,"time":"2026-')
    const b = await open(10)
    expect(listed(b)).toEqual(['bad 1'])
    await b.add(input(3))
    await b.close()
    expect(await reopened(10)).toEqual(['bad 1', 'bad 3'])
    expect(await onDisk()).toEqual(['bad 1', 'bad 3'])
  })

  it('a stale temporary file of a compaction cut short is removed at open', async () => {
    await writeFile(path + '.tmp', '{"id":1,"tor')
    await open(10)
    expect(await readdir(dir)).toEqual(['rejections.jsonl'])
  })
})

describe('RejectionStore: journal positions', () => {
  it('holds a position only once its rejection is durable, and finds every position of the file after a reopen', async () => {
    const store = await open(2)
    const adding = store.add({ ...input(1), source: { seq: 7, index: 0 } })
    // Not yet on disk: a crash now must not make a replay skip it.
    expect(store.holds({ seq: 7, index: 0 })).toBe(false)
    await adding
    expect(store.holds({ seq: 7, index: 0 })).toBe(true)
    // A later position kept first (an earlier one still retrying) says nothing about the earlier one.
    await store.add({ ...input(2), source: { seq: 9, index: 3 } })
    expect(store.holds({ seq: 8, index: 0 })).toBe(false)
    await store.add({ ...input(3), source: { seq: 10, index: 0 } })
    await store.close()
    const again = await open(2)
    // Three lines in the file, two in the ring: all three positions are found.
    expect([[7, 0], [9, 3], [10, 0], [9, 2]].map(([seq, index]) => again.holds({ seq: seq!, index: index! }))).toEqual([true, true, true, false])
  })

  const at = (seq: number) => ({ seq, index: 0 })
  const withSource = (n: number, seq: number): RejectionInput => ({ ...input(n), source: at(seq) })

  it('still holds the positions a compaction dropped from the file, after a reopen (a replay does not keep them twice)', async () => {
    const store = await open(2)
    for (let seq = 1; seq <= 7; seq++) await store.add(withSource(seq, seq))
    // Compacted to the last 2 when it held 4: the file lists fewer positions than were kept.
    expect(listed(store)).toEqual(['bad 6', 'bad 7'])
    await store.close()
    const again = await open(2)
    expect([1, 2, 3, 4, 5, 6, 7].map((seq) => again.holds(at(seq)))).toEqual(Array(7).fill(true))
    expect(again.holds(at(8))).toBe(false)
    // A floor written against another journal (its next sequence number is at or below the floor) is not trusted.
    expect(again.holds(at(3), 3)).toBe(false)
    expect(again.holds(at(3), 100)).toBe(true)
    // More compactions keep the floor rising, and the header does not show as a record.
    for (let seq = 8; seq <= 12; seq++) await again.add(withSource(seq, seq))
    await again.close()
    const third = await open(2)
    expect([1, 5, 10, 12].map((seq) => third.holds(at(seq)))).toEqual([true, true, true, true])
    expect(listed(third)).toEqual(['bad 11', 'bad 12'])
  })

  it('a position still waiting when a compaction drops later ones is not held: its replay is kept', async () => {
    let fail = false
    const store = await open(2, {
      openAppend: async (p) => {
        const real = await defaultRejectionFiles.openAppend(p)
        return { ...real, write: (bytes: Buffer) => (fail ? Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) : real.write(bytes)) }
      },
    })
    fail = true
    const first = withSource(1, 1)
    await expect(store.add(first)).rejects.toThrow(/EIO/) // the keeper would retry it
    fail = false
    for (let seq = 2; seq <= 7; seq++) await store.add(withSource(seq, seq))
    expect(store.holds(at(2))).toBe(true)
    expect(store.holds(at(1))).toBe(false)
    await store.close()
    // The process died before the retry: after the restart, position 1 is replayed and must be kept.
    const again = await open(2)
    expect(again.holds(at(1))).toBe(false)
    expect(again.holds(at(2))).toBe(true)
    await again.add(first)
    for (let seq = 8; seq <= 12; seq++) await again.add(withSource(seq, seq))
    // Kept now, and compacted away since: held by the floor.
    expect(again.holds(at(1))).toBe(true)
  })
})
