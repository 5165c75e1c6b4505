import { statfs } from 'node:fs/promises'
import type { Logger } from 'pino'

/** Free blocks for an unprivileged writer, and their size (what `fs.statfs` answers). */
export type StatFs = (path: string) => Promise<{ readonly bavail: number; readonly bsize: number }>

export interface FreeSpaceOptions {
  readonly dir: string
  /** Below this many free bytes the disk counts as full (0: never, only a refused write tells). */
  readonly minFreeBytes: number
  readonly intervalMs: number
  readonly log: Logger
  /** Test seam (default `fs.statfs`). */
  readonly statfs?: StatFs
  /** After every check (timer or asked for), whatever it found. */
  readonly onChecked: () => void
}

/**
 * The free space of the journal's file system, asked with `statfs` on a
 * timer (never per append) and counted down between two checks by the bytes
 * the journal appends meanwhile, so a burst cannot run far past the
 * threshold before the next check sees it. docs/delivery.md, "A full disk".
 */
export class FreeSpaceMonitor {
  /** Free bytes at the last check; unknown (Infinity) until one answered. */
  private freeAtCheck = Infinity
  /** Bytes appended since start, and how many of them the last check had already seen. */
  private noted = 0
  private notedAtCheck = 0
  private wasLow = false
  private checking: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private warnedError = false

  constructor(private readonly opts: FreeSpaceOptions) {}

  /** Checks once now, then every `intervalMs` until stop(). */
  async start(): Promise<void> {
    await this.check()
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** The estimate: free bytes at the last check less what was appended since. */
  get freeBytes(): number {
    return Math.max(0, this.freeAtCheck - (this.noted - this.notedAtCheck))
  }

  /** Below JOURNAL_MIN_FREE_BYTES (by the estimate). */
  get low(): boolean {
    const low = this.opts.minFreeBytes > 0 && this.freeBytes < this.opts.minFreeBytes
    if (low !== this.wasLow) this.transition(low)
    return low
  }

  /** Bytes about to be written to the disk. */
  note(bytes: number): void {
    this.noted += bytes
  }

  /** Asks the file system now (one question at a time; a caller during one waits for it). */
  check(): Promise<void> {
    this.checking ??= this.ask().finally(() => {
      this.checking = undefined
      this.opts.onChecked()
    })
    return this.checking
  }

  private async ask(): Promise<void> {
    const seen = this.noted
    try {
      const s = await (this.opts.statfs ?? statfs)(this.opts.dir)
      this.freeAtCheck = s.bavail * s.bsize
      this.notedAtCheck = seen
      this.warnedError = false
    } catch (err) {
      // Not knowing is not "low": a refused write still stops the journal.
      if (!this.warnedError) this.opts.log.warn({ err: (err as Error).message }, 'journal: cannot read the free space of its disk')
      this.warnedError = true
      this.freeAtCheck = Infinity
    }
    void this.low
  }

  private transition(low: boolean): void {
    this.wasLow = low
    const fields = { freeBytes: this.freeBytes, minFreeBytes: this.opts.minFreeBytes }
    if (low) this.opts.log.warn(fields, 'journal: free space on its disk below JOURNAL_MIN_FREE_BYTES; holding acknowledgements until there is room')
    else this.opts.log.warn(fields, 'journal: free space on its disk above JOURNAL_MIN_FREE_BYTES again')
  }
}
