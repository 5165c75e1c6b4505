import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AppendFile, rest } from '../../src/spool/append-file.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'append-file-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A write seam that holds each group until the test releases it, and can fail it. */
function controlledWrites() {
  const calls: { bytes: string; position: number; release: (err?: Error) => void }[] = []
  const writeAt = (fh: FileHandle, buffers: readonly Buffer[], position: number) =>
    new Promise<void>((resolve, reject) => {
      const bytes = Buffer.concat(buffers)
      calls.push({
        bytes: bytes.toString(),
        position,
        release: (err) => (err ? reject(err) : fh.write(bytes, 0, bytes.length, position).then(() => resolve(), reject)),
      })
    })
  return { calls, writeAt }
}

const tick = () => new Promise((r) => setImmediate(r))
async function until(cond: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !cond(); await new Promise((r) => setTimeout(r, 2))) if (Date.now() > deadline) throw new Error('timed out waiting')
}

describe('AppendFile', () => {
  it('writes the appends of one tick as one group, and every byte in order', async () => {
    const synced: number[] = []
    const f = await AppendFile.open(join(dir, 'log'), { onSynced: (size) => synced.push(size) })
    const parts = ['a', 'bb', 'ccc', 'dddd']
    await Promise.all(parts.map((p) => f.append(Buffer.from(p))))
    await f.append(Buffer.from('eeeee'))
    expect(f.size).toBe(15)
    await f.close()
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe('abbcccddddeeeee')
    expect(synced).toEqual([10, 15])
  })

  it('writes a group of more buffers than one writev takes (IOV_MAX, 1024), every byte in order', async () => {
    const f = await AppendFile.open(join(dir, 'log'))
    const parts = Array.from({ length: 3000 }, (_, i) => Buffer.from(`${i},`))
    await Promise.all(parts.map((p) => f.append(p)))
    await f.close()
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe(parts.join(''))
  })

  it('with four groups in flight, acknowledges them only in file order', async () => {
    const w = controlledWrites()
    const synced: number[] = []
    const f = await AppendFile.open(join(dir, 'log'), { maxInFlight: 4, writeAt: w.writeAt, onSynced: (size) => synced.push(size) })
    const done: string[] = []
    for (const p of ['g1', 'g2', 'g3', 'g4', 'g5']) {
      void f.append(Buffer.from(p)).then(() => done.push(p))
      await tick()
    }
    // Four groups are being written, each at its own offset; the fifth waits for a slot.
    expect(w.calls.map((c) => [c.bytes, c.position])).toEqual([['g1', 0], ['g2', 2], ['g3', 4], ['g4', 6]])
    w.calls[2]!.release()
    w.calls[1]!.release()
    await new Promise((r) => setTimeout(r, 50))
    expect(done).toEqual([]) // g2 and g3 are on disk, but g1 is not yet
    w.calls[0]!.release()
    await until(() => done.length === 3)
    expect(done).toEqual(['g1', 'g2', 'g3'])
    expect(synced).toEqual([2, 4, 6])
    await until(() => w.calls.length === 5)
    expect(w.calls[4]).toMatchObject({ bytes: 'g5', position: 8 })
    w.calls[3]!.release()
    w.calls[4]!.release()
    await f.close()
    expect(done).toEqual(['g1', 'g2', 'g3', 'g4', 'g5'])
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe('g1g2g3g4g5')
  })

  it('after a failed write truncates to the durable prefix and writes the failed group and the later ones again', async () => {
    const w = controlledWrites()
    const errors: string[] = []
    let recovered = 0
    const f = await AppendFile.open(join(dir, 'log'), { maxInFlight: 4, writeAt: w.writeAt, retryMs: 10, onError: (e) => errors.push(e.code ?? e.message), onRecovered: () => recovered++ })
    const done: string[] = []
    for (const p of ['ok', 'FAIL', 'late']) {
      void f.append(Buffer.from(p)).then(() => done.push(p))
      await tick()
    }
    w.calls[0]!.release()
    w.calls[2]!.release() // written past the failure: must not count
    w.calls[1]!.release(Object.assign(new Error('no space'), { code: 'ENOSPC' }))
    await until(() => done.length === 1)
    expect(f.isFailing).toBe(true)
    expect(done).toEqual(['ok'])
    // Appends while failing wait behind the failed ones.
    void f.append(Buffer.from('more')).then(() => done.push('more'))
    while (w.calls.length < 4) await new Promise((r) => setTimeout(r, 5))
    // The rewrite starts at the end of the durable prefix, with the group that failed.
    expect(w.calls[3]).toMatchObject({ bytes: 'FAIL', position: 2 })
    const closed = f.close()
    for (let released = 3; done.length < 4; await tick()) while (released < w.calls.length) w.calls[released++]!.release()
    await closed
    expect(done).toEqual(['ok', 'FAIL', 'late', 'more'])
    expect(errors).toEqual(['ENOSPC'])
    expect(recovered).toBe(1)
    expect(f.isFailing).toBe(false)
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe('okFAILlatemore')
  })

  it('empties a file whose durable bytes are all consumed, while a failing write waits, and writes the waiting groups from offset 0', async () => {
    const w = controlledWrites()
    const f = await AppendFile.open(join(dir, 'log'), { writeAt: w.writeAt, retryMs: 20 })
    const first = f.append(Buffer.from('old'))
    await until(() => w.calls.length === 1)
    w.calls[0]!.release()
    await first
    let acked = false
    void f.append(Buffer.from('new')).then(() => (acked = true))
    await until(() => w.calls.length === 2)
    w.calls[1]!.release(Object.assign(new Error('no space'), { code: 'ENOSPC' }))
    await until(() => f.isFailing)
    expect(f.failureCode).toBe('ENOSPC')
    // Asked while the failed group waits for its retry: runs before the retry, with nothing in flight.
    const seen: number[] = []
    const reset = f.reset(() => (seen.push(f.size), true), () => seen.push(-1))
    expect(await reset).toBe(true)
    expect(seen).toEqual([3, -1])
    expect(f.size).toBe(0)
    await until(() => w.calls.length === 3)
    expect(w.calls[2]).toMatchObject({ bytes: 'new', position: 0 })
    w.calls[2]!.release()
    await until(() => acked)
    expect(f.isFailing).toBe(false)
    await f.close()
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe('new')
  })

  it('does not empty the file when the condition no longer holds once the writes in flight are done', async () => {
    const w = controlledWrites()
    const f = await AppendFile.open(join(dir, 'log'), { writeAt: w.writeAt })
    const a = f.append(Buffer.from('a'))
    await until(() => w.calls.length === 1)
    const reset = f.reset(() => f.size === 0, () => undefined)
    let settled = false
    void reset.then(() => (settled = true))
    await new Promise((r) => setTimeout(r, 20))
    expect(settled).toBe(false) // waits for the write in flight
    w.calls[0]!.release()
    await a
    expect(await reset).toBe(false)
    await f.close()
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe('a')
  })

  it('after giveUpRetries, a write the disk refuses rejects its appends instead of retrying, so close() ends', async () => {
    const w = controlledWrites()
    // A retry an hour away: giving up must not wait for it.
    const f = await AppendFile.open(join(dir, 'log'), { writeAt: w.writeAt, retryMs: 3_600_000 })
    const ok = f.append(Buffer.from('ok'))
    await until(() => w.calls.length === 1)
    w.calls[0]!.release()
    await ok
    const refused = f.append(Buffer.from('refused')).then(() => 'durable', (e: Error) => e.message)
    await until(() => w.calls.length === 2)
    w.calls[1]!.release(Object.assign(new Error('no space'), { code: 'ENOSPC' }))
    await until(() => f.isFailing)
    f.giveUpRetries()
    await f.close()
    expect(await refused).toMatch(/not written/)
    expect(w.calls).toHaveLength(2)
    expect(await readFile(join(dir, 'log'), 'utf8')).toBe('ok')
  })
})

describe('rest (what a short writev leaves)', () => {
  it('drops whole buffers, then cuts into the next one, without copying', () => {
    const a = Buffer.from('abc')
    const b = Buffer.from('defg')
    expect(rest([a, b], 0).map(String)).toEqual(['abc', 'defg'])
    expect(rest([a, b], 2).map(String)).toEqual(['c', 'defg'])
    expect(rest([a, b], 3).map(String)).toEqual(['defg'])
    expect(rest([a, b], 5).map(String)).toEqual(['fg'])
    expect(rest([a, b], 7)).toEqual([])
    expect(rest([a, b], 5)[0]!.buffer).toBe(b.buffer)
  })
})
