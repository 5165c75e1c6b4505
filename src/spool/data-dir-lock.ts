import { readFileSync } from 'node:fs'
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { AppError } from '../errors.js'
import { processRunning, processStartTime } from '../proc-stat.js'

/**
 * One process per data directory (docs/operations.md, "One process per DATA_DIR"). Two services
 * on one journal each append at their own idea of its end and overwrite each other's records:
 * acknowledged messages lost without a word. The lock is a file created exclusively, holding who
 * took it; the holder touches it every `refreshMs`.
 *
 * A lock taken on this host since its last boot is judged by its process: refused at once while
 * that runs, taken over at once when it is gone (the id is not running, or runs a process started
 * at another time). One from another host or container (a shared volume) is taken over once it has
 * not been touched for `staleMs`; until then start-up waits for it, up to `waitMs`, then refuses.
 */
export interface LockHolder {
  readonly pid: number
  readonly host: string
  readonly bootId: string
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), '' where unknown. */
  readonly started: string
  readonly since: string
}

export interface DataDirLock {
  release(): Promise<void>
}

export interface LockOptions {
  readonly refreshMs?: number
  readonly staleMs?: number
  readonly waitMs?: number
  /** How the directory is named in errors: `DATA_DIR` by default. */
  readonly name?: string
  /** Called once while waiting for a lock that may be stale. */
  readonly onWait?: (holder: LockHolder | undefined) => void
}

const LOCK_FILE = 'service.lock'
/** Locks this process holds: its own id in a lock file is then a second service here, not a previous life. */
const heldHere = new Set<string>()

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return ''
  }
}

function me(): LockHolder {
  return { pid: process.pid, host: hostname(), bootId: readText('/proc/sys/kernel/random/boot_id'), started: processStartTime(process.pid), since: new Date().toISOString() }
}

/**
 * What can be known of a holder: taken on this host since its boot, it is `gone` (its process no
 * longer runs, or its id is another process's now) or `alive`; from elsewhere, `unknown`.
 */
function holderState(h: LockHolder, self: LockHolder): 'gone' | 'alive' | 'unknown' {
  if (h.host !== self.host || h.bootId === '' || h.bootId !== self.bootId) return 'unknown'
  if (h.pid === self.pid || !processRunning(h.pid)) return 'gone'
  const started = processStartTime(h.pid)
  return h.started !== '' && started !== '' && started !== h.started ? 'gone' : 'alive'
}

function parse(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>
    return typeof h.pid === 'number' && typeof h.host === 'string' ? ({ bootId: '', started: '', since: '', ...h } as LockHolder) : undefined
  } catch {
    return undefined
  }
}

export async function lockDataDir(dir: string, opts: LockOptions = {}): Promise<DataDirLock> {
  const refreshMs = opts.refreshMs ?? 5_000
  const staleMs = opts.staleMs ?? 30_000
  const deadline = Date.now() + (opts.waitMs ?? staleMs + refreshMs)
  const path = join(dir, LOCK_FILE)
  const self = me()
  const name = opts.name ?? 'DATA_DIR'
  if (heldHere.has(path)) throw inUse(name, dir, path, self)
  let waited = false
  for (;;) {
    let fh: FileHandle | undefined
    try {
      fh = await open(path, 'wx', 0o644)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    if (fh) return held(fh, path, self, refreshMs)
    const text = await readFile(path, 'utf8').catch(() => '')
    const holder = parse(text)
    const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0)
    const state = holder ? holderState(holder, self) : 'unknown'
    if (state === 'alive') throw inUse(name, dir, path, holder)
    // A half-written lock (its taker died between create and write) ages out like any other.
    if (state === 'gone' || age > staleMs) {
      // Moved aside, not deleted: of two processes taking over the same stale lock, one moves it and
      // the other finds nothing to move, so neither deletes a lock the other has just taken.
      const aside = `${path}.stale-${process.pid}`
      if (await rename(path, aside).then(() => true, () => false)) await unlink(aside).catch(() => undefined)
      continue
    }
    if (Date.now() >= deadline) throw inUse(name, dir, path, holder)
    if (!waited) opts.onWait?.(holder)
    waited = true
    await new Promise((r) => setTimeout(r, Math.min(1_000, refreshMs)))
  }
}

function inUse(name: string, dir: string, path: string, holder: LockHolder | undefined): AppError {
  const who = holder ? `process ${holder.pid} on host ${holder.host}, since ${holder.since}` : 'another process'
  return new AppError('IIOT_ERR_CONFIG_INVALID', `${name} ${dir} is in use by ${who} (${path}): two processes on one directory overwrite each other's files; stop the other one, or give this one its own ${name}`)
}

async function held(fh: FileHandle, path: string, self: LockHolder, refreshMs: number): Promise<DataDirLock> {
  let mine = JSON.stringify(self)
  // On a full disk the file exists but its text may not fit: it is held all the same, and others
  // judge an empty lock by its age alone.
  try {
    await fh.writeFile(mine)
    await fh.sync()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') {
      await fh.close()
      await unlink(path).catch(() => undefined)
      throw err
    }
    mine = ''
  }
  heldHere.add(path)
  const touch = setInterval(() => {
    const now = new Date()
    void fh.utimes(now, now).catch(() => undefined)
  }, refreshMs)
  touch.unref()
  let released = false
  return {
    async release() {
      if (released) return
      released = true
      heldHere.delete(path)
      clearInterval(touch)
      await fh.close()
      // Only our own lock: a lock taken over as stale (we were thought gone) is the new holder's.
      if ((await readFile(path, 'utf8').catch(() => '')) === mine) await unlink(path).catch(() => undefined)
    },
  }
}
