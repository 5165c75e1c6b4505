import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { processStartTime } from '../../src/proc-stat.js'
import { lockDataDir } from '../../src/spool/data-dir-lock.js'
import { useTempDir } from '../helpers/temp-dir.js'

let dir: string
let child: ChildProcess | undefined
const lockFile = () => join(dir, 'service.lock')
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const started = processStartTime
/** A lock file as another process would have left it. */
const writeLock = (holder: Record<string, unknown>) => writeFile(lockFile(), JSON.stringify({ host: hostname(), bootId: bootId(), since: '2026-12-04T00:00:00.000Z', ...holder }))

useTempDir('iiot-lock-', (d) => (dir = d))

afterEach(async () => {
  if (child?.pid && child.exitCode === null) {
    child.kill('SIGKILL')
    await new Promise((r) => child!.once('exit', r))
  }
  child = undefined
})

/** A real other process on this host, alive for the test. */
async function otherProcess(): Promise<number> {
  child = spawn('sleep', ['60'], { stdio: 'ignore' })
  await new Promise((r) => child!.once('spawn', r))
  return child.pid!
}

describe('one process per data directory', () => {
  it('refuses a second holder in the same process, and takes the directory again once released', async () => {
    const lock = await lockDataDir(dir)
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() })
    await expect(lockDataDir(dir, { waitMs: 0 })).rejects.toThrow(/DATA_DIR .* is in use by process \d+ on host/)
    await lock.release()
    expect(existsSync(lockFile())).toBe(false)
    await (await lockDataDir(dir)).release()
  })

  it('refuses at once a lock held by a live process on this host', async () => {
    const pid = await otherProcess()
    await writeLock({ pid, started: started(pid) })
    const t0 = Date.now()
    await expect(lockDataDir(dir, { waitMs: 10_000 })).rejects.toThrow(new RegExp(`in use by process ${pid} on host`))
    expect(Date.now() - t0).toBeLessThan(1_000)
    // Still the other process's.
    expect(JSON.parse(await readFile(lockFile(), 'utf8')).pid).toBe(pid)
  })

  it('takes over at once a lock whose process is gone, or whose id now belongs to a process started later', async () => {
    const pid = await otherProcess()
    child!.kill('SIGKILL')
    await new Promise((r) => child!.once('exit', r))
    expect(() => process.kill(pid, 0)).toThrow()
    await writeLock({ pid, started: '1' })
    const t0 = Date.now()
    const lock = await lockDataDir(dir, { waitMs: 5_000 })
    expect(Date.now() - t0).toBeLessThan(1_000)
    expect(JSON.parse(await readFile(lockFile(), 'utf8')).pid).toBe(process.pid)
    await lock.release()

    const alive = await otherProcess()
    await writeLock({ pid: alive, started: String(Number(started(alive)) - 1) })
    await (await lockDataDir(dir, { waitMs: 0 })).release()
  })

  it('judges a lock from another host by its age: fresh is waited for, then refused; untouched for staleMs is taken', async () => {
    await writeLock({ pid: 1, host: 'another-host', bootId: 'x' })
    let waitedFor: unknown
    const t0 = Date.now()
    await expect(lockDataDir(dir, { waitMs: 300, refreshMs: 100, staleMs: 30_000, onWait: (h) => (waitedFor = h) })).rejects.toThrow(/in use by process 1 on host another-host/)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
    expect(waitedFor).toMatchObject({ host: 'another-host' })
    const old = new Date(Date.now() - 60_000)
    await utimes(lockFile(), old, old)
    const lock = await lockDataDir(dir, { waitMs: 0, staleMs: 30_000 })
    expect(JSON.parse(await readFile(lockFile(), 'utf8')).host).toBe(hostname())
    await lock.release()
  })

  it('keeps its lock fresh while held, and leaves a lock it no longer owns in place on release', async () => {
    const lock = await lockDataDir(dir, { refreshMs: 50 })
    const old = new Date(Date.now() - 60_000)
    await utimes(lockFile(), old, old)
    await new Promise((r) => setTimeout(r, 200))
    expect(Date.now() - statSync(lockFile()).mtimeMs).toBeLessThan(5_000)
    // Taken over meanwhile (this process was thought gone): the new holder's lock stays.
    await writeLock({ pid: 4242, host: 'another-host' })
    await lock.release()
    expect(JSON.parse(await readFile(lockFile(), 'utf8')).host).toBe('another-host')
  })
})
