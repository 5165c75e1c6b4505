import { constants } from 'node:fs'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { deferred, type Deferred } from '../spool/deferred.js'
import { syncDir } from '../spool/segment-files.js'

export interface Rejection {
  readonly id: number
  readonly time: string
  readonly topic: string
  readonly gateway: string | undefined
  readonly zone: string | undefined
  readonly factory: string | undefined
  readonly reason: string
  readonly message: string
  readonly payloadBytes: number
  /** The first `REJECTIONS_PAYLOAD_BYTES` bytes of the payload, base64. */
  readonly payloadBase64: string
  /** Where the rejected message stands in the journal, when it was decoded from there. */
  readonly source?: JournalPosition | undefined
}

/** A message's place in the journal: its record's sequence number and its index among the record's frames. */
export interface JournalPosition {
  readonly seq: number
  readonly index: number
}

const positionKey = (p: JournalPosition) => `${p.seq}:${p.index}`
const before = (a: JournalPosition, b: JournalPosition) => a.seq < b.seq || (a.seq === b.seq && a.index < b.index)

/**
 * The first line of a compacted file: every rejection at a journal position up to `floor` was
 * kept, except at the positions `unkept` lists, although the file may no longer list them.
 */
interface PositionsHeader {
  readonly floor: JournalPosition
  readonly unkept: readonly JournalPosition[]
}

export type RejectionInput = Omit<Rejection, 'id' | 'time' | 'payloadBytes' | 'payloadBase64'> & { payload: Buffer }

/** The rejection file opened for appending; `write` resolves once the bytes are durable. */
export interface AppendHandle {
  write(bytes: Buffer): Promise<void>
  size(): Promise<number>
  truncate(size: number): Promise<void>
  close(): Promise<void>
}

/** The file operations of the store: a seam, so tests can fail or "crash" any step. */
export interface RejectionFiles {
  openAppend(path: string): Promise<AppendHandle>
  /** Writes a new file and fsyncs it. */
  writeSynced(path: string, bytes: Buffer): Promise<void>
  rename(from: string, to: string): Promise<void>
  /** fsyncs a directory, so that a file created or renamed in it survives a crash. */
  syncDir(dir: string): Promise<void>
}

/** As the journal's files (src/spool/append-file.ts): each write returns once durable; fdatasync where O_DSYNC does not exist. */
const DSYNC: number = constants.O_DSYNC ?? 0

export const defaultRejectionFiles: RejectionFiles = {
  async openAppend(path) {
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | DSYNC, 0o644)
    return {
      async write(bytes) {
        // write() may write less than asked: loop until the whole group is in the file.
        for (let off = 0; off < bytes.length; ) {
          const { bytesWritten } = await fh.write(bytes, off, bytes.length - off)
          if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
          off += bytesWritten
        }
        if (DSYNC === 0) await fh.datasync()
      },
      size: async () => (await fh.stat()).size,
      truncate: (size) => fh.truncate(size),
      close: () => fh.close(),
    }
  },
  async writeSynced(path, bytes) {
    const fh = await open(path, 'w', 0o644)
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
  },
  rename,
  syncDir,
}

/**
 * The last N rejections, kept for operators (GET /api/v1/ingest/rejections)
 * in memory and in a JSON-lines file that survives restarts, as durable as
 * the journal (docs/delivery.md): `add()` resolves once the record is on disk
 * (the adds of one tick share a write, opened with O_DSYNC) and rejects when it
 * cannot be made so; the rejection keeper retries it, and the journal's
 * checkpoint does not pass the message until it is kept, so an acknowledged
 * bad message always ends as a kept rejection (docs/delivery.md). Only durable
 * records are listed.
 *
 * Once the file holds 2N lines it is compacted to the last N: written to a
 * temporary file, fsynced, renamed over the old one (atomic), and the
 * directory fsynced, so a crash at any step leaves one complete file. A failed
 * step loses nothing: the ring stays in memory and the next add compacts again.
 *
 * A compaction must not forget which journal positions were kept, or a replay after a crash
 * that reaches that far back would keep their rejections again. Rejections are submitted in
 * journal order (the processor keeps a batch's rejections together, batch after batch), so
 * once one is kept, every rejection before it has been submitted: it is kept, or waiting
 * (queued, or failed and retried by the keeper). The compacted file therefore starts with a
 * header: the highest position compacted away (the floor) and the positions below it still
 * waiting then, the only ones below it not kept. Its size is bounded by the rejections in
 * flight, not by how many were compacted away.
 */
export class RejectionStore {
  /** Durable records, oldest first, at most `max`. */
  private readonly ring: Rejection[] = []
  private nextId = 1
  private linesInFile = 0
  /** Bytes of the file known durable: anything past it was never acknowledged. */
  private durableSize = 0
  /** The file no longer holds the ring (changed under us): rewrite it at the next add. */
  private rewrite = false
  /** Undefined after a failure: reopened at the next add. */
  private handle: AppendHandle | undefined
  /** Journal positions of the rejections the file holds (durable): a replay keeps none of them again. */
  private keptPositions = new Set<string>()
  /** Every position up to this one was kept, apart from `unkept` (the compacted file's header). */
  private floor: JournalPosition | undefined
  private unkept = new Map<string, JournalPosition>()
  /** Rejections submitted and not yet kept (a retry by the keeper passes the same input again). */
  private readonly waiting = new Map<RejectionInput, JournalPosition>()
  private queue: { readonly rejection: Rejection; readonly done: Deferred; readonly input: RejectionInput }[] = []
  private writing: Promise<void> | undefined
  private closed = false

  private constructor(
    private readonly path: string,
    private readonly max: number,
    private readonly payloadBytes: number,
    private readonly files: RejectionFiles,
    private readonly log: Logger,
  ) {}

  static async open(path: string, opts: { max: number; payloadBytes: number; files?: Partial<RejectionFiles> }, log: Logger): Promise<RejectionStore> {
    await mkdir(dirname(path), { recursive: true })
    // A compaction cut short by a crash: the file it was to replace is still whole.
    await rm(path + '.tmp', { force: true })
    let bytes = Buffer.alloc(0)
    try {
      bytes = await readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const store = new RejectionStore(path, opts.max, opts.payloadBytes, { ...defaultRejectionFiles, ...opts.files }, log)
    // A torn last line (a write cut by a crash) was never acknowledged: it is left out, and cut off when the file is opened.
    store.durableSize = bytes.lastIndexOf(0x0a) + 1
    const lines = bytes.toString('utf8', 0, store.durableSize).split('\n').filter((l) => l.length > 0)
    store.linesInFile = lines.length
    const ringFrom = lines.length - 2 * opts.max
    lines.forEach((l, i) => {
      let r: Rejection
      try {
        r = JSON.parse(l) as Rejection
      } catch {
        return // Not a record: skip it.
      }
      if ('floor' in r) {
        const h = r as unknown as PositionsHeader
        store.floor = h.floor
        store.unkept = new Map(h.unkept.map((p) => [positionKey(p), p]))
        return
      }
      // Every position the file holds, not only the ring's: a replay after a crash must find each.
      if (r.source) store.keptPositions.add(positionKey(r.source))
      // Ids only grow; a record written twice around a compaction is kept once.
      if (i >= ringFrom && r.id > (store.ring.at(-1)?.id ?? 0)) store.ring.push(r)
    })
    store.ring.splice(0, Math.max(0, store.ring.length - opts.max))
    store.nextId = (store.ring.at(-1)?.id ?? 0) + 1
    store.handle = await store.reopen()
    return store
  }

  /**
   * Whether the rejection of the message at `position` was already recorded: the journal is
   * decoded again after a crash from its checkpoint, and a rejection must be kept once.
   * `journalNextSeq` is the journal's first sequence number of this run: a floor at or past it
   * was written against another journal (removed, or in memory) and is not trusted.
   */
  holds(position: JournalPosition, journalNextSeq?: number): boolean {
    const key = positionKey(position)
    if (this.keptPositions.has(key)) return true
    const floor = this.floor
    if (!floor || (journalNextSeq !== undefined && floor.seq >= journalNextSeq)) return false
    return !before(floor, position) && !this.unkept.has(key)
  }

  /** Records a rejection; resolves once it is durable, rejects when it cannot be made so. */
  add(input: RejectionInput): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path} is closed`))
    const { payload, ...rest } = input
    const rejection: Rejection = {
      id: this.nextId++,
      time: new Date().toISOString(),
      ...rest,
      payloadBytes: payload.length,
      payloadBase64: payload.subarray(0, this.payloadBytes).toString('base64'),
    }
    if (input.source) this.waiting.set(input, input.source)
    const done = deferred()
    this.queue.push({ rejection, done, input })
    this.writing ??= this.drain()
    return done.promise
  }

  /** Newest first; `beforeId` pages backwards. */
  list(opts: { limit: number; beforeId?: number | undefined; filter?: (r: Rejection) => boolean }): Rejection[] {
    const out: Rejection[] = []
    for (let i = this.ring.length - 1; i >= 0 && out.length < opts.limit; i--) {
      const r = this.ring[i]!
      if (opts.beforeId !== undefined && r.id >= opts.beforeId) continue
      if (opts.filter && !opts.filter(r)) continue
      out.push(r)
    }
    return out
  }

  /** Writes queued records, one group at a time, until none is left. */
  private async drain(): Promise<void> {
    // The adds of this tick join the first group.
    await new Promise<void>((resolve) => process.nextTick(resolve))
    while (this.queue.length > 0) {
      const group = this.queue.splice(0)
      const records = group.map((g) => g.rejection)
      try {
        await this.write(records)
      } catch (err) {
        this.log.error({ err, records: records.length }, 'cannot make rejections durable yet; they stay in the journal and are retried')
        for (const g of group) g.done.reject(err)
        continue
      }
      this.ring.push(...records)
      this.ring.splice(0, Math.max(0, this.ring.length - this.max))
      for (const r of records) if (r.source) this.keptPositions.add(positionKey(r.source))
      for (const g of group) {
        this.waiting.delete(g.input)
        g.done.resolve()
      }
    }
    this.writing = undefined
  }

  private async write(records: readonly Rejection[]): Promise<void> {
    if (this.rewrite || this.linesInFile + records.length > 2 * this.max) return this.compact(records)
    const handle = (this.handle ??= await this.reopen())
    // reopen() may find the file shorter than written (changed under us): then it is written whole.
    return this.rewrite ? this.compact(records) : this.append(handle, records)
  }

  private async append(handle: AppendHandle, records: readonly Rejection[]): Promise<void> {
    const bytes = serialize(records)
    try {
      await handle.write(bytes)
    } catch (err) {
      // Whatever part reached the file is cut off when it is reopened, at the next add.
      await this.discardHandle()
      throw err
    }
    this.durableSize += bytes.length
    this.linesInFile += records.length
  }

  /** Rewrites the file as the last N records, these included. */
  private async compact(records: readonly Rejection[]): Promise<void> {
    // The old file stays whole in place until the rename replaces it.
    await this.discardHandle()
    const kept = [...this.ring, ...records].slice(-Math.max(this.max, records.length))
    const keptNow = new Set(kept.flatMap((r) => (r.source ? [positionKey(r.source)] : [])))
    const positions = this.positionsAfter(keptNow)
    const bytes = Buffer.concat([positions ? Buffer.from(JSON.stringify(positions) + '\n') : Buffer.alloc(0), serialize(kept)])
    const tmp = this.path + '.tmp'
    try {
      await this.files.writeSynced(tmp, bytes)
      await this.files.rename(tmp, this.path)
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined)
      throw err
    }
    // The path now names the new file; until the directory is synced a crash may bring back the
    // old one (whole too), so these records are acknowledged only after it.
    this.durableSize = bytes.length
    this.linesInFile = kept.length
    this.keptPositions = keptNow
    if (positions) {
      this.floor = positions.floor
      this.unkept = new Map(positions.unkept.map((p) => [positionKey(p), p]))
    }
    this.rewrite = false
    await this.files.syncDir(dirname(this.path))
  }

  /**
   * The header of a compaction that keeps only the positions `keptNow`: the floor rises to the
   * highest position compacted away, and the positions below it not kept are those waiting now
   * and those the previous header named, unless kept since.
   */
  private positionsAfter(keptNow: ReadonlySet<string>): PositionsHeader | undefined {
    let floor = this.floor
    for (const key of this.keptPositions) {
      if (keptNow.has(key)) continue
      const [seq, index] = key.split(':').map(Number) as [number, number]
      if (!floor || before(floor, { seq, index })) floor = { seq, index }
    }
    if (!floor) return undefined
    const unkept = new Map<string, JournalPosition>()
    for (const p of [...this.unkept.values(), ...this.waiting.values()]) {
      const key = positionKey(p)
      if (before(p, floor) && !this.keptPositions.has(key) && !keptNow.has(key)) unkept.set(key, p)
    }
    return { floor, unkept: [...unkept.values()] }
  }

  /** Opens the file for appending, cutting off what was never acknowledged. */
  private async reopen(): Promise<AppendHandle> {
    const handle = await this.files.openAppend(this.path)
    try {
      const size = await handle.size()
      if (size > this.durableSize) await handle.truncate(this.durableSize)
      else if (size < this.durableSize) {
        // Truncated or replaced by someone else: the records the ring holds are written again.
        this.log.warn({ path: this.path, size, expected: this.durableSize }, 'the rejection file is shorter than written; rewriting it')
        this.rewrite = true
      }
      // The file may have just been created: its directory entry must be durable too.
      await this.files.syncDir(dirname(this.path))
    } catch (err) {
      await handle.close().catch(() => undefined)
      throw err
    }
    return handle
  }

  private async discardHandle(): Promise<void> {
    const handle = this.handle
    this.handle = undefined
    await handle?.close().catch(() => undefined)
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    this.closed = true
    await this.writing
    await this.discardHandle()
  }
}

function serialize(records: readonly Rejection[]): Buffer {
  return Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''))
}
