import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'

/**
 * Opened with O_DSYNC where the platform has it: each write returns once its data (and the size
 * needed to read it back) is on disk, so a group costs one trip to the thread pool instead of two
 * (write, then fdatasync). Elsewhere the group is written, then fdatasync'ed.
 */
const DSYNC: number = constants.O_DSYNC ?? 0

/**
 * An append-only file with group commit: `append()` resolves once its bytes
 * are written and synced (O_DSYNC, or fdatasync); appends that arrive while a sync is running
 * wait for the next one and share it. File I/O goes through the async
 * fs API (libuv's thread pool), never blocking the event loop.
 *
 * A failed write (ENOSPC, EIO) truncates the file back to the last synced
 * size and retries the same group after `retryMs`, so nothing acknowledged
 * is lost and nothing half-written stays; `onError` reports each failure.
 */
export interface AppendFileOptions {
  readonly retryMs?: number
  readonly onError?: (err: NodeJS.ErrnoException) => void
  readonly onRecovered?: () => void
  /** Called once per group, after its fdatasync and before its appends resolve, with the synced size. */
  readonly onSynced?: (size: number) => void
}

export class AppendFile {
  private queue: Buffer[] = []
  /** The next group's outcome, shared by every append in it: one promise per fdatasync, not per append. */
  private group: Group | undefined
  private syncing = false
  private closed = false
  private failing = false
  private loop: Promise<void> = Promise.resolve()
  private queued = 0

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    private syncedSize: number,
    private readonly opts: AppendFileOptions & { retryMs: number },
  ) {}

  static async open(path: string, opts: AppendFileOptions = {}): Promise<AppendFile> {
    const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | DSYNC, 0o644)
    const { size } = await fh.stat()
    return new AppendFile(path, fh, size, { retryMs: opts.retryMs ?? 1000, ...opts })
  }

  /** Bytes durably in the file. */
  get size(): number {
    return this.syncedSize
  }

  /** Bytes accepted but not yet synced (waiting, or in the running group). */
  get queuedBytes(): number {
    return this.queued
  }

  /** True while writes fail (disk full or broken): callers should stop taking data. */
  get isFailing(): boolean {
    return this.failing
  }

  append(buf: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path} is closed`))
    this.queue.push(buf)
    this.queued += buf.length
    this.group ??= newGroup()
    const done = this.group.done
    if (!this.syncing) this.loop = this.commitLoop()
    return done
  }

  private async commitLoop(): Promise<void> {
    this.syncing = true
    while (this.queue.length > 0) {
      const buffers = this.queue
      const group = this.group!
      this.queue = []
      this.group = undefined
      const bytes = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers)
      for (;;) {
        try {
          // write() may write less than asked: loop until the whole group is in the file.
          for (let off = 0; off < bytes.length; ) {
            const { bytesWritten } = await this.fh.write(bytes, off, bytes.length - off, null)
            if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
            off += bytesWritten
          }
          if (DSYNC === 0) await this.fh.datasync()
          this.syncedSize += bytes.length
          this.queued -= bytes.length
          if (this.failing) {
            this.failing = false
            this.opts.onRecovered?.()
          }
          break
        } catch (err) {
          this.failing = true
          this.opts.onError?.(err as NodeJS.ErrnoException)
          // Drop whatever part of the group reached the file, then try again later.
          await this.fh.truncate(this.syncedSize).catch(() => undefined)
          if (this.closed) {
            group.reject(err as Error)
            this.syncing = false
            return
          }
          await new Promise((r) => setTimeout(r, this.opts.retryMs))
        }
      }
      this.opts.onSynced?.(this.syncedSize)
      group.resolve()
    }
    this.syncing = false
  }

  /** Waits for queued appends to be synced, then closes. */
  async close(): Promise<void> {
    await this.loop
    this.closed = true
    await this.fh.close()
  }
}

interface Group {
  readonly done: Promise<void>
  resolve(): void
  reject(err: Error): void
}

function newGroup(): Group {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A group nobody awaits any more (its appenders gave up) must not become an unhandled rejection.
  done.catch(() => undefined)
  return { done, resolve, reject }
}
