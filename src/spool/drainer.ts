import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import { StorageError, type LineWriter } from '../storage/ports.js'
import type { Journal, RecordBatch } from './journal.js'
import { BodyPool, joinLineBodies } from './line-bodies.js'

/** How often a write waiting to reach storage again asks whether it answers. */
const REACHABLE_PROBE_MS = 1_000

export interface DrainerOptions {
  readonly batchSize: number
  /** How long a partial batch may wait (from its oldest record) for more points before it is sent. */
  readonly lingerMs: number
  readonly maxInFlight: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
}

/** What a batch of records is sent as. */
export interface BatchContent {
  /** Line protocol as UTF-8, lines joined by "\n" (empty when none). */
  readonly body: Buffer
  readonly lineCount: number
  /** Resolves once whatever else the batch became (rejections) is durable: the checkpoint waits for it. */
  readonly kept: Promise<void>
  /** Called once the body is read no more: its memory may be used again. */
  release?(): void
}

export interface DrainerDeps {
  readonly metrics: Metrics
  readonly log: Logger
  /**
   * A point storage refused as bad data, isolated by splitting its batch. The returned promise
   * resolves once the refusal is kept: the batch is not complete before (docs/delivery.md).
   */
  readonly onRefusedLine: (line: string, message: string) => Promise<void> | void
  /**
   * Turns records into line protocol as soon as they are read (message frames are decoded here, on
   * the journal's read side, or handed to decode workers: then the answer is a promise, and
   * answers must come in the order asked). Default: records of line protocol, sent as they are.
   */
  readonly process?: (batch: RecordBatch) => BatchContent | Promise<BatchContent>
  /**
   * Whether storage answers at all (InfluxDB's /ping). While a write that could not reach storage
   * waits out its back-off, this is asked every second, and the write is tried again as soon as it
   * says yes: the back-off grows to WRITE_RETRY_MAX_MS during an outage, and recovery used to wait
   * it out. A write storage answered with an error (5xx, 429) keeps its whole back-off.
   */
  readonly reachable?: () => Promise<boolean>
}

/** A batch read from the journal, with what it became (or will, once decode workers answer). */
interface Read {
  readonly batch: RecordBatch
  readonly content: BatchContent | Promise<BatchContent>
}

/** The default `process`: records that already hold line protocol. */
export function linesOf(batch: RecordBatch): BatchContent {
  if (batch.records.some((r) => r.format !== 'lines')) throw new Error('journal records of message frames need a processor')
  return { body: joinLineBodies(batch.records.map((r) => r.payload)), lineCount: batch.lineCount, kept: Promise.resolve() }
}

type Outcome = 'done' | 'stopped'

/** Resolves after the event loop has polled for I/O once. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Records are read (and so decoded, on this thread) about this many points at a time: each
 * slice's processing is one synchronous stretch of the event loop, which acknowledgements
 * wait behind, so it is kept to a millisecond or two; a request still carries up to
 * `batchSize` points, gathered from several slices.
 */
const READ_SLICE_LINES = 500
/** Journal bytes one request's group of reads may span at most, whatever it becomes. */
const MAX_GROUP_BYTES = 8 * 1024 * 1024

/**
 * Moves the journal into storage: reads records in order, sends up to
 * `maxInFlight` batches at once, retries transient failures with capped
 * exponential backoff for as long as it takes, and reports each batch done
 * only once storage accepted it, so the checkpoint never passes data that
 * is not stored. A batch refused as bad data (4xx) is split in halves until
 * the bad points are alone; those become rejections and the rest is written.
 */
export class Drainer {
  private inFlight = 0
  private readonly bodies = new BodyPool()
  private running = false
  private loopDone: Promise<void> = Promise.resolve()
  private slotWaiters: (() => void)[] = []
  private giveUpAt = Infinity
  private lastWriteMs = Date.now()
  /** Waits cut short by stop(); each removes itself when its own promise settles first. */
  private readonly stopWaiters = new Set<() => void>()
  private stopped = false
  /** A read that did not fit the request being filled: the first of the next one. */
  private carried: Read | undefined
  /** Points per point the journal estimated, over the recent decoded batches: sizes requests before the decoding answers. */
  private pointsPerEstimate = 1

  constructor(
    private readonly journal: Journal,
    private readonly writer: LineWriter,
    private readonly opts: DrainerOptions,
    private readonly deps: DrainerDeps,
  ) {}

  /** When storage last accepted a write. */
  get lastWriteAt(): number {
    return this.lastWriteMs
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.giveUpAt = Infinity
    this.stopped = false
    this.loopDone = this.loop()
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.inFlight >= this.opts.maxInFlight) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve))
        continue
      }
      let first = this.carried
      this.carried = undefined
      if (!first) {
        await nextTurn()
        const batch = await this.journal.read(this.readSize(this.opts.batchSize))
        if (!batch) {
          await this.orStop(this.journal.waitForData(500))
          continue
        }
        first = this.read(batch)
      }
      const reads = await this.linger(first)
      this.inFlight++
      void this.send(reads)
        // A bug of ours (the processing path threw): the batches stay in the journal, replayed on the next start.
        .catch((err: unknown) => this.deps.log.error({ err }, 'a batch could not be processed; it stays in the journal'))
        .finally(() => {
          this.inFlight--
          const waiters = this.slotWaiters
          this.slotWaiters = []
          for (const w of waiters) w()
        })
    }
  }

  /**
   * `p`'s value, or undefined as soon as stop() is called. Not Promise.race against one
   * long-lived stop promise: every race would leave a reaction on it for the life of the
   * process, a few hundred bytes per request and per idle poll.
   */
  private orStop<T>(p: Promise<T>): Promise<T | undefined> {
    if (this.stopped) return Promise.resolve(undefined)
    return new Promise<T | undefined>((resolve, reject) => {
      const wake = () => {
        this.stopWaiters.delete(wake)
        resolve(undefined)
      }
      this.stopWaiters.add(wake)
      p.then(
        (v) => {
          this.stopWaiters.delete(wake)
          resolve(v)
        },
        (err: unknown) => {
          this.stopWaiters.delete(wake)
          reject(err)
        },
      )
    })
  }

  /** The points a read adds to its request: exact once decoded; until then the journal's estimate, corrected by what recent batches turned out to hold. */
  private pointsOf(r: Read): number {
    return r.content instanceof Promise ? Math.ceil(r.batch.lineCount * this.pointsPerEstimate) : r.content.lineCount
  }

  /** How much to ask the journal for (in its estimated points) to get about `points`, at most a slice. */
  private readSize(points: number): number {
    return Math.max(1, Math.ceil(Math.min(points, READ_SLICE_LINES) / this.pointsPerEstimate))
  }

  /** Processes a batch the moment it is read: accepted messages reach their listeners without waiting for storage. */
  private read(batch: RecordBatch): Read {
    return { batch, content: (this.deps.process ?? linesOf)(batch) }
  }

  /**
   * Fills a partial batch for up to `lingerMs` (counted from its oldest record): InfluxDB ingests
   * large batches far more cheaply than many small ones, and the wait is bounded and small beside
   * the publish-to-queryable target.
   */
  private async linger(first: Read): Promise<Read[]> {
    const reads = [first]
    let lines = this.pointsOf(first)
    let bytes = first.batch.bytes
    const oldest = first.batch.records[0]!.appendMs
    // Bytes bound the group too: messages that all end as rejections add no lines.
    while (lines < this.opts.batchSize && bytes < MAX_GROUP_BYTES && this.running) {
      // What is already durable is taken at once, a slice at a time; only then is it worth waiting.
      // A read from the chunk already in memory resolves without I/O, so without this turn the
      // slices of a whole request ran as one stretch of microtasks, sockets and disk completions
      // waiting behind them all (the acknowledgement's tail: the event loop's, not the disk's).
      await nextTurn()
      const more = await this.journal.read(this.readSize(this.opts.batchSize - lines))
      if (more) {
        const r = this.read(more)
        // A read is a whole number of records (one socket chunk's messages each), so it can hold
        // more than the request has room for: it starts the next request instead of overfilling
        // this one past what the writer takes (which used to be refused, then split in halves as
        // if it were bad data: most of the service's garbage under a flood).
        if (lines + this.pointsOf(r) > this.opts.batchSize) {
          this.carried = r
          break
        }
        reads.push(r)
        lines += this.pointsOf(r)
        bytes += more.bytes
        continue
      }
      const left = this.opts.lingerMs - (Date.now() - oldest)
      if (left <= 0) break
      await this.orStop(this.journal.waitForData(left))
    }
    return reads
  }

  private async send(reads: readonly Read[]): Promise<void> {
    const contents = await Promise.all(reads.map((r) => r.content))
    const estimated = reads.reduce((n, r) => n + r.batch.lineCount, 0)
    const decoded = contents.reduce((n, c) => n + c.lineCount, 0)
    if (estimated > 0 && decoded > 0) this.pointsPerEstimate = Math.min(100, Math.max(0.01, 0.8 * this.pointsPerEstimate + 0.2 * (decoded / estimated)))
    const body = this.bodies.join(contents.map((c) => c.body))
    // Copied into the request's body: the batches' own memory may be used again at once.
    for (const c of contents) if (c.body !== body) c.release?.()
    try {
      await this.sendBody(reads, contents, body, decoded)
    } finally {
      // Written, refused and split, or left to the replay: the writer is done with these bytes.
      this.bodies.release(body)
      for (const c of contents) if (c.body === body) c.release?.()
    }
  }

  private async sendBody(reads: readonly Read[], contents: readonly BatchContent[], body: Buffer, lineCount: number): Promise<void> {
    // Nothing to write (every message rejected): the batches are done once their rejections are kept.
    const refused: Promise<void>[] = []
    // One read alone may hold more than a request takes (a record is never split): it goes as several, in order.
    for (const piece of lineCount > this.opts.batchSize ? splitLines(body, this.opts.batchSize) : lineCount > 0 ? [{ body, lines: lineCount }] : []) {
      // Stopped mid-retry: the batches stay in the journal and are replayed on the next start.
      if ((await this.write(piece.body, piece.lines, refused)) !== 'done') return
    }
    // Shutting down while a rejection cannot be kept: leave the batches to the replay (kept once, by position).
    const kept = await this.orStop(Promise.all([...contents.map((c) => c.kept), ...refused]).then(() => true))
    if (kept) for (const r of reads) this.journal.complete(r.batch)
  }

  /** Writes `body`, retrying; points refused as bad data are isolated, and their keeping added to `refused`. */
  private async write(body: Buffer, lineCount: number, refused: Promise<void>[]): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.writer.write(body, lineCount)
        this.deps.metrics.pointsWritten.inc(lineCount)
        this.lastWriteMs = Date.now()
        return 'done'
      } catch (err) {
        const error = err instanceof StorageError ? err : new StorageError(String(err), true, undefined, { cause: err })
        this.deps.metrics.writeErrors.inc({ retriable: String(error.retriable) })
        if (!error.retriable) return this.isolate(body.toString('utf8').split('\n'), error, refused)
        if (Date.now() >= this.giveUpAt) return 'stopped'
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(attempt, 20))
        if (attempt === 0 || attempt % 10 === 0) this.deps.log.warn({ attempt: attempt + 1, retryInMs: delay, points: lineCount, status: error.status, err: error.message }, 'write failed; will retry until it succeeds')
        // Not reached, or no database yet (created once InfluxDB answers at start-up): try again as
        // soon as it answers. Any other answer (5xx, 429) is storage asking for time: the whole back-off.
        await this.backOff(delay, error.status === undefined || error.status === 404)
        if (!this.running && Date.now() >= this.giveUpAt) return 'stopped'
      }
    }
  }

  /** Waits `delayMs`, or less once storage answers again when it could not be reached (`reachable`). */
  private async backOff(delayMs: number, unreachable: boolean): Promise<void> {
    const until = Date.now() + delayMs
    const reachable = unreachable ? this.deps.reachable : undefined
    for (;;) {
      const left = until - Date.now()
      if (left <= 0 || this.stopped) return
      const step = reachable ? Math.min(left, REACHABLE_PROBE_MS) : left
      await this.orStop(new Promise<void>((r) => setTimeout(r, step).unref()))
      if (reachable && until - Date.now() > 0 && !this.stopped && (await reachable().catch(() => false))) return
    }
  }

  private async isolate(lines: readonly string[], error: StorageError, refused: Promise<void>[]): Promise<Outcome> {
    if (lines.length === 1) {
      this.deps.metrics.pointsDropped.inc({ reason: 'refused_by_storage' })
      const keeping = this.deps.onRefusedLine(lines[0]!, error.message)
      if (keeping) refused.push(keeping)
      return 'done'
    }
    const mid = lines.length >> 1
    for (const half of [lines.slice(0, mid), lines.slice(mid)]) {
      if ((await this.write(Buffer.from(half.join('\n'), 'utf8'), half.length, refused)) === 'stopped') return 'stopped'
    }
    return 'done'
  }

  /**
   * Waits until everything journaled is written or `timeoutMs` passes, then
   * stops: requests still failing give up, and what is left stays in the
   * journal for the next start.
   */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.journal.stats().unwrittenRecords > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
    }
    this.running = false
    this.stopped = true
    for (const wake of [...this.stopWaiters]) wake()
    this.giveUpAt = Math.max(Date.now(), deadline)
    for (const w of this.slotWaiters.splice(0)) w()
    // The loop first: a read it was awaiting may still start one last send (found in review).
    await this.loopDone
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20))
  }
}

const NEWLINE = 0x0a

/** `body` cut at line ends into pieces of at most `max` lines (views, no copy). */
export function splitLines(body: Buffer, max: number): { body: Buffer; lines: number }[] {
  const pieces: { body: Buffer; lines: number }[] = []
  let start = 0
  while (start < body.length) {
    let end = start
    let lines = 0
    while (lines < max) {
      const nl = body.indexOf(NEWLINE, end)
      lines++
      if (nl < 0) {
        end = body.length
        break
      }
      end = nl + 1
      if (lines === max) end = nl
    }
    pieces.push({ body: body.subarray(start, end), lines })
    start = end < body.length && body[end] === NEWLINE ? end + 1 : end
  }
  return pieces
}
