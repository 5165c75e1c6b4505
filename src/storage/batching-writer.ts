import type { Logger } from 'pino'
import type { WriteConfig } from '../config/config.js'
import type { Metrics } from '../metrics/metrics.js'
import { StorageError, type BatchOutcome, type LineWriter, type PointSink } from './ports.js'

/**
 * Batches points for a LineWriter: a batch leaves when it is full or when the
 * oldest point has waited `flushIntervalMs`; at most `maxInFlight` requests
 * run at once; transient failures are retried with exponential backoff up to
 * `maxRetries`; a 4xx answer is not retried. Every batch's outcome is
 * reported to `onBatch` listeners, so a journal can advance its checkpoint
 * only on what the database accepted.
 *
 * Without the journal, points still buffered here are lost on a crash, and
 * the buffer is bounded by `maxBufferedLines` (oldest dropped, counted).
 */
export class BatchingWriter implements PointSink {
  private buffer: string[] = []
  private inFlight = 0
  private timer: NodeJS.Timeout | undefined
  private draining = false
  private idleWaiters: (() => void)[] = []
  private readonly listeners = new Set<(outcome: BatchOutcome) => void>()

  constructor(
    private readonly writer: LineWriter,
    private readonly opts: WriteConfig & { readonly retryBaseMs?: number },
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  get bufferedLines(): number {
    return this.buffer.length
  }

  onBatch(listener: (outcome: BatchOutcome) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  enqueue(lines: readonly string[]): void {
    for (let i = 0; i < lines.length; i++) this.buffer.push(lines[i]!)
    const overflow = this.buffer.length - this.opts.maxBufferedLines
    if (overflow > 0) {
      this.buffer.splice(0, overflow)
      this.metrics.pointsDropped.inc({ reason: 'buffer_full' }, overflow)
      this.log.error({ dropped: overflow }, 'write buffer full: oldest points dropped (InfluxDB too slow or down)')
    }
    this.metrics.writeBufferLines.set(this.buffer.length)
    if (this.buffer.length >= this.opts.batchSize) this.pump(false)
    else this.timer ??= setTimeout(() => this.onTimer(), this.opts.flushIntervalMs)
  }

  /** Sends everything buffered and resolves when no request is in flight. */
  async flush(): Promise<void> {
    this.draining = true
    try {
      while (this.buffer.length > 0 || this.inFlight > 0) {
        this.pump(true)
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      }
    } finally {
      this.draining = false
    }
  }

  private onTimer(): void {
    this.timer = undefined
    this.pump(true)
  }

  private pump(partial: boolean): void {
    while (this.inFlight < this.opts.maxInFlight && this.buffer.length > 0) {
      if (!partial && !this.draining && this.buffer.length < this.opts.batchSize) break
      const batch = this.buffer.splice(0, this.opts.batchSize)
      this.metrics.writeBufferLines.set(this.buffer.length)
      this.inFlight++
      void this.send(batch, 0)
    }
    if (this.buffer.length > 0 && this.timer === undefined) this.timer = setTimeout(() => this.onTimer(), this.opts.flushIntervalMs)
  }

  private async send(batch: string[], attempt: number): Promise<void> {
    try {
      await this.writer.write(batch)
      this.metrics.pointsWritten.inc(batch.length)
      this.finish({ lines: batch, ok: true })
    } catch (err) {
      const error = err instanceof StorageError ? err : new StorageError(String(err), true, undefined, { cause: err })
      this.metrics.writeErrors.inc({ retriable: String(error.retriable) })
      if (error.retriable && attempt < this.opts.maxRetries) {
        const delay = Math.min(30_000, (this.opts.retryBaseMs ?? 250) * 2 ** attempt)
        this.log.warn({ attempt: attempt + 1, delayMs: delay, points: batch.length, err: error.message }, 'write failed; retrying')
        setTimeout(() => void this.send(batch, attempt + 1), delay)
        return
      }
      this.metrics.pointsDropped.inc({ reason: error.retriable ? 'retries_exhausted' : 'refused_by_storage' }, batch.length)
      this.log.error({ points: batch.length, status: error.status, err: error.message }, 'write failed; batch given up')
      this.finish({ lines: batch, ok: false, error })
    }
  }

  private finish(outcome: BatchOutcome): void {
    this.inFlight--
    for (const l of this.listeners) l(outcome)
    if (this.buffer.length > 0) this.pump(this.draining)
    if (this.inFlight === 0 || this.buffer.length === 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }

  close(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }
}
