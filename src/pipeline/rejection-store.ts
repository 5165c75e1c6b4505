import { mkdir, readFile, rename, appendFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'

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
 * in memory and in a JSON-lines file that survives restarts. Appends are
 * asynchronous and serialized; the file is compacted to the last N entries
 * once it holds 2N, so it stays bounded.
 */
export class RejectionStore {
  private readonly ring: Rejection[] = []
  private nextId = 1
  private linesInFile = 0
  private tail: Promise<void> = Promise.resolve()

  private constructor(
    private readonly path: string,
    private readonly max: number,
    private readonly payloadBytes: number,
    private readonly log: Logger,
  ) {}

  static async open(path: string, opts: { max: number; payloadBytes: number }, log: Logger): Promise<RejectionStore> {
    const store = new RejectionStore(path, opts.max, opts.payloadBytes, log)
    await mkdir(dirname(path), { recursive: true })
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const lines = text.split('\n').filter((l) => l.length > 0)
    store.linesInFile = lines.length
    for (const l of lines.slice(-opts.max)) {
      try {
        store.ring.push(JSON.parse(l) as Rejection)
      } catch {
        // A torn last line after a crash: skip it.
      }
    }
    store.nextId = (store.ring.at(-1)?.id ?? 0) + 1
    return store
  }

  add(input: RejectionInput): Rejection {
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
    this.persist(rejection)
    return rejection
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

  /** Resolves when everything added so far is on disk. */
  flush(): Promise<void> {
    return this.tail
  }

  private persist(rejection: Rejection): void {
    this.tail = this.tail
      .then(async () => {
        if (this.linesInFile >= 2 * this.max) {
          const tmp = this.path + '.tmp'
          await writeFile(tmp, this.ring.map((r) => JSON.stringify(r) + '\n').join(''))
          await rename(tmp, this.path)
          this.linesInFile = this.ring.length
          return
        }
        await appendFile(this.path, JSON.stringify(rejection) + '\n')
        this.linesInFile++
      })
      .catch((err: unknown) => this.log.error({ err }, 'cannot persist rejection'))
  }
}
