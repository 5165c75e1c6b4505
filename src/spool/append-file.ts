import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { deferred, type Deferred } from './deferred.js'

/**
 * Opened with O_DSYNC where the platform has it: each write returns once its data (and the size
 * needed to read it back) is on disk, so a group costs one trip to the thread pool instead of two
 * (write, then fdatasync). Elsewhere each group is written, then fdatasync'ed.
 */
const DSYNC: number = constants.O_DSYNC ?? 0

/**
 * Groups written at once, by default. Four in flight measured no faster than one on the CI machine
 * class (`ingest --samples 1 --quick`: 65k against 64-69k msg/s) and cost more CPU (more, smaller
 * writes), so one it is; the ordering that makes more safe stays, tested, for faster disks.
 */
export const DEFAULT_GROUPS_IN_FLIGHT = 1

export interface AppendFileOptions {
  readonly retryMs?: number
  readonly onError?: (err: NodeJS.ErrnoException) => void
  readonly onRecovered?: () => void
  /** Called once per group, in file order, after it is durable and before its appends resolve, with the durable size. */
  readonly onSynced?: (size: number) => void
  /** Groups written at once (default DEFAULT_GROUPS_IN_FLIGHT); they are acknowledged in file order whatever order they finish in. */
  readonly maxInFlight?: number
  /** Test seam: how a group's bytes reach the file (default: positional writes until all are written). */
  readonly writeAt?: (fh: FileHandle, buffers: readonly Buffer[], position: number) => Promise<void>
}

/** Appends waiting to be written together; the last one is open for more. */
interface Pending {
  readonly buffers: Buffer[]
  bytes: number
  readonly group: Deferred
}

/** A group being written at `position`. */
interface Flight {
  readonly buffers: readonly Buffer[]
  readonly length: number
  readonly position: number
  readonly group: Deferred
  state: 'writing' | 'done' | 'failed'
}

/**
 * An append-only file with group commit: `append()` resolves once its bytes
 * are durable. The appends of one tick (a socket chunk's publishes) form a
 * group, written with one positional writev; up to `maxInFlight`
 * groups are written at once, each at its own offset, and they resolve in
 * file order, so nothing is acknowledged while an earlier byte may still be
 * missing. File I/O goes through the async fs API (libuv's thread pool),
 * never blocking the event loop.
 *
 * A failed write (ENOSPC, EIO) stops new writes; once the groups in flight
 * have settled, the file is truncated back to its durable prefix and the
 * failed group and every later one are written again after `retryMs`, so
 * nothing acknowledged is lost and nothing half-written stays; `onError`
 * reports each failure.
 *
 * `reset()` empties the file between writes (its owner has consumed every
 * durable byte): on a full disk that is the space the waiting groups need.
 */
export class AppendFile {
  private readonly pending: Pending[] = []
  private readonly inFlight: Flight[] = []
  private issueScheduled = false
  private closed = false
  private failing = false
  private recovering = false
  private queued = 0
  /** The error of the failed write being retried. */
  private failure: NodeJS.ErrnoException | undefined
  /** Operations that need the file to themselves: run once nothing is in flight, before anything more is written. */
  private readonly barriers: (() => Promise<void>)[] = []
  private exclusive = false
  private givingUp = false
  private wakeRetry: (() => void) | undefined
  /** Where the next group is written: the durable size plus what is in flight. */
  private endOffset: number
  private idleWaiters: (() => void)[] = []
  private readonly writeAt: (fh: FileHandle, buffers: readonly Buffer[], position: number) => Promise<void>
  private readonly maxInFlight: number

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    private syncedSize: number,
    private readonly opts: AppendFileOptions & { retryMs: number },
  ) {
    this.endOffset = syncedSize
    this.writeAt = opts.writeAt ?? writeFully
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_GROUPS_IN_FLIGHT
  }

  static async open(path: string, opts: AppendFileOptions = {}): Promise<AppendFile> {
    // Positional writes (no O_APPEND): groups in flight together each go to their own offset.
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | DSYNC, 0o644)
    const { size } = await fh.stat()
    return new AppendFile(path, fh, size, { retryMs: opts.retryMs ?? 1000, ...opts })
  }

  /** Bytes durably in the file. */
  get size(): number {
    return this.syncedSize
  }

  /** Bytes accepted but not yet durable (waiting, or being written). */
  get queuedBytes(): number {
    return this.queued
  }

  /** True while writes fail (disk full or broken): callers should stop taking data. */
  get isFailing(): boolean {
    return this.failing
  }

  /** The error code of the write being retried (ENOSPC: disk full), while failing. */
  get failureCode(): string | undefined {
    return this.failing ? (this.failure?.code ?? 'EIO') : undefined
  }

  append(buf: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path} is closed`))
    let open = this.pending.at(-1)
    if (!open) this.pending.push((open = { buffers: [], bytes: 0, group: deferred() }))
    open.buffers.push(buf)
    open.bytes += buf.length
    this.queued += buf.length
    if (!this.issueScheduled) {
      // Issue at the end of this tick: the appends made meanwhile share one write.
      this.issueScheduled = true
      process.nextTick(() => {
        this.issueScheduled = false
        this.issue()
      })
    }
    return open.group.promise
  }

  private issue(): void {
    if (this.recovering || this.exclusive) return
    if (this.barriers.length > 0) {
      // Nothing new is written until the barriers ran; they run once the writes in flight settled.
      if (this.inFlight.length === 0) void this.runBarriers()
      return
    }
    while (this.inFlight.length < this.maxInFlight && this.pending.length > 0) {
      const p = this.pending.shift()!
      // The group's buffers go to the file as they are (one writev), not copied into one.
      const flight: Flight = { buffers: p.buffers, length: p.bytes, position: this.endOffset, group: p.group, state: 'writing' }
      this.endOffset += p.bytes
      this.inFlight.push(flight)
      void this.write(flight)
    }
  }

  private async write(flight: Flight): Promise<void> {
    try {
      await this.writeAt(this.fh, flight.buffers, flight.position)
      if (DSYNC === 0) await this.fh.datasync()
      flight.state = 'done'
    } catch (err) {
      flight.state = 'failed'
      this.failing = true
      this.recovering = true
      this.failure = err as NodeJS.ErrnoException
      this.opts.onError?.(err as NodeJS.ErrnoException)
    }
    this.settle()
  }

  /** Resolves the durable prefix in file order; after a failure, recovers once nothing is in flight. */
  private settle(): void {
    while (this.inFlight[0]?.state === 'done') {
      const f = this.inFlight.shift()!
      this.syncedSize += f.length
      this.queued -= f.length
      if (this.failing && !this.recovering) {
        this.failing = false
        this.opts.onRecovered?.()
      }
      this.opts.onSynced?.(this.syncedSize)
      f.group.resolve()
    }
    if (this.recovering) {
      if (this.inFlight.some((f) => f.state === 'writing')) return
      void this.recover()
      return
    }
    this.issue()
    this.notifyIdle()
  }

  private async recover(): Promise<void> {
    // The failed group and everything after it go back to the front, in order, to be written again.
    const again = this.inFlight.splice(0)
    this.pending.unshift(...again.map((f) => ({ buffers: [...f.buffers], bytes: f.length, group: f.group })))
    this.endOffset = this.syncedSize
    // Drop whatever part of them reached the file, then try again later.
    await this.fh.truncate(this.syncedSize).catch(() => undefined)
    if (!this.givingUp) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.retryMs)
        this.wakeRetry = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wakeRetry = undefined
    }
    if (this.givingUp) this.abandonPending()
    this.recovering = false
    this.issue()
    this.notifyIdle()
  }

  /** Fails every append not yet written (none of them was acknowledged: they never became durable). */
  private abandonPending(): void {
    const err = Object.assign(new Error(`${this.path}: not written (${this.failure?.code ?? 'write failed'}); retries given up at shutdown`), { code: this.failure?.code })
    for (const p of this.pending.splice(0)) {
      this.queued -= p.bytes
      p.group.reject(err)
    }
  }

  /**
   * From now on a write the disk refuses fails its appends, and every later
   * pending one, instead of being retried: so that a shutdown on a full disk
   * ends. None of them was acknowledged (they never became durable).
   */
  giveUpRetries(): void {
    this.givingUp = true
    this.wakeRetry?.()
  }

  /**
   * Empties the file, once no write is in flight and before anything more is
   * written, if `shouldReset()` (asked at that moment, with the durable size
   * final) agrees; `onReset` runs before any later group is written, which
   * then goes to offset 0. Resolves whether it was emptied. For an owner that
   * has consumed every durable byte: on a full disk, the waiting groups need
   * exactly that space.
   */
  reset(shouldReset: () => boolean, onReset: () => void): Promise<boolean> {
    if (this.closed) return Promise.resolve(false)
    const done = new Promise<boolean>((resolve) => {
      this.barriers.push(async () => {
        if (this.closed || !shouldReset()) return resolve(false)
        try {
          await this.fh.truncate(0)
        } catch {
          return resolve(false)
        }
        // The new size durable before new records overwrite the old ones (even if not, a crash could
        // only bring back records the owner had consumed, never lose a later one).
        await this.fh.sync().catch(() => undefined)
        this.syncedSize = 0
        this.endOffset = 0
        onReset()
        resolve(true)
      })
    })
    this.issue()
    return done
  }

  private async runBarriers(): Promise<void> {
    this.exclusive = true
    for (let b = this.barriers.shift(); b; b = this.barriers.shift()) await b()
    this.exclusive = false
    this.issue()
    this.notifyIdle()
  }

  private get busy(): boolean {
    return this.pending.length > 0 || this.inFlight.length > 0 || this.barriers.length > 0 || this.exclusive || this.recovering
  }

  private notifyIdle(): void {
    if (this.busy || this.idleWaiters.length === 0) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }

  /** Waits for every append to be durable (retrying failed writes), then closes. */
  async close(): Promise<void> {
    if (this.busy) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve)
        this.issue()
      })
    }
    this.closed = true
    await this.fh.close()
  }
}

async function writeFully(fh: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
  // writev() may write less than asked: loop on what is left until the whole group is in the file.
  let left = buffers
  while (left.length > 0) {
    const { bytesWritten } = left.length === 1 ? await fh.write(left[0]!, 0, left[0]!.length, position) : await fh.writev(left, position)
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    position += bytesWritten
    left = rest(left, bytesWritten)
  }
}

/** `buffers` without their first `n` bytes (views, no copy). */
export function rest(buffers: readonly Buffer[], n: number): readonly Buffer[] {
  let i = 0
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length
  if (i === buffers.length) return []
  const out = buffers.slice(i)
  if (n > 0) out[0] = out[0]!.subarray(n)
  return out
}
