import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { AppendFile } from '../spool/append-file.js'

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
}

export type RejectionInput = Omit<Rejection, 'id' | 'time' | 'payloadBytes' | 'payloadBase64'> & { payload: Buffer }

/**
 * The last N rejections, kept for operators (GET /api/v1/ingest/rejections)
 * in memory and in a JSON-lines file that survives restarts. `add()` resolves
 * once the record is fsynced (group commit), so a QoS 1 PUBACK for a bad
 * message means its rejection is on disk. The file is compacted to the last
 * N entries once it holds 2N.
 */
export class RejectionStore {
  private readonly ring: Rejection[] = []
  private nextId = 1
  private linesInFile = 0
  private compacting: Promise<void> | undefined

  private constructor(
    private readonly path: string,
    private file: AppendFile,
    private readonly max: number,
    private readonly payloadBytes: number,
    private readonly log: Logger,
  ) {}

  static async open(path: string, opts: { max: number; payloadBytes: number }, log: Logger): Promise<RejectionStore> {
    await mkdir(dirname(path), { recursive: true })
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const store = new RejectionStore(path, await AppendFile.open(path), opts.max, opts.payloadBytes, log)
    const lines = text.split('\n').filter((l) => l.length > 0)
    store.linesInFile = lines.length
    for (const l of lines.slice(-2 * opts.max)) {
      try {
        const r = JSON.parse(l) as Rejection
        // Ids only grow; a record written twice around a compaction is kept once.
        if (r.id > (store.ring.at(-1)?.id ?? 0)) store.ring.push(r)
      } catch {
        // A torn last line after a crash: skip it.
      }
    }
    store.ring.splice(0, Math.max(0, store.ring.length - opts.max))
    store.nextId = (store.ring.at(-1)?.id ?? 0) + 1
    return store
  }

  /** Records a rejection; resolves once it is durable. */
  add(input: RejectionInput): Promise<void> {
    const { payload, ...rest } = input
    const rejection: Rejection = {
      id: this.nextId++,
      time: new Date().toISOString(),
      ...rest,
      payloadBytes: payload.length,
      payloadBase64: payload.subarray(0, this.payloadBytes).toString('base64'),
    }
    this.ring.push(rejection)
    if (this.ring.length > this.max) this.ring.shift()
    return this.persist(rejection)
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

  private async persist(rejection: Rejection): Promise<void> {
    if (this.compacting) await this.compacting
    if (this.linesInFile >= 2 * this.max) {
      // The rewritten file holds the ring, this rejection included.
      this.compacting = this.compact().finally(() => (this.compacting = undefined))
      return this.compacting.catch((err: unknown) => this.log.error({ err }, 'cannot compact the rejection file'))
    }
    this.linesInFile++
    try {
      await this.file.append(Buffer.from(JSON.stringify(rejection) + '\n'))
    } catch (err) {
      this.log.error({ err }, 'cannot persist rejection')
    }
  }

  private async compact(): Promise<void> {
    await this.file.close()
    const tmp = this.path + '.tmp'
    await writeFile(tmp, this.ring.map((r) => JSON.stringify(r) + '\n').join(''))
    await rename(tmp, this.path)
    this.linesInFile = this.ring.length
    this.file = await AppendFile.open(this.path)
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.compacting
    await this.file.close()
  }
}
