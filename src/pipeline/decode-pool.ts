import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { RegistrySource } from '../registry/registry-store.js'
import type { DecodeJob, DecodeWorkerInit, PartResult } from './decode-protocol.js'

export interface DecodePoolOptions {
  readonly size: number
  /** Everything a worker starts with but its index and the live table (read from `liveSeed` at each start). */
  readonly init: Omit<DecodeWorkerInit, 'index' | 'liveSeed' | 'registryFile'>
  readonly liveSeed: () => DecodeWorkerInit['liveSeed']
  readonly registry: RegistrySource
  readonly log: Logger
}

/** A worker that stopped with jobs unanswered: their records are decoded again elsewhere. */
export class DecodeWorkerLost extends Error {}

interface Slot {
  worker: Worker
  readonly pending: Map<number, { resolve: (r: PartResult) => void; reject: (err: Error) => void }>
  registry: unknown
}

/**
 * Decode workers (docs/architecture.md, "Processing path"): each batch goes to every worker, and
 * each decodes the messages of its own share of the gateways (decode-protocol.ts). Jobs are
 * answered in the order they were posted.
 */
export class DecodePool {
  private readonly slots: Slot[] = []
  private nextId = 0
  private closing = false

  constructor(private readonly opts: DecodePoolOptions) {
    if (opts.size < 1) throw new RangeError('a decode pool needs at least one worker')
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn(i))
  }

  get size(): number {
    return this.slots.length
  }

  private spawn(index: number): Slot {
    const registry = this.opts.registry.current()
    const init: DecodeWorkerInit = { ...this.opts.init, index, liveSeed: this.opts.liveSeed(), registryFile: registry.file }
    const slot: Slot = { worker: startWorker(init), pending: new Map(), registry }
    slot.worker.on('message', (r: PartResult) => {
      const p = slot.pending.get(r.id)
      slot.pending.delete(r.id)
      p?.resolve(r)
    })
    slot.worker.on('error', (err) => this.opts.log.error({ err, worker: index }, 'decode worker failed'))
    slot.worker.on('exit', (code) => {
      if (this.closing) return
      this.opts.log.error({ worker: index, code }, 'decode worker stopped; starting another, and its unanswered batches are decoded on the main thread')
      const lost = [...slot.pending.values()]
      slot.pending.clear()
      this.slots[index] = this.spawn(index)
      for (const p of lost) p.reject(new DecodeWorkerLost(`decode worker ${index} stopped (exit code ${code})`))
    })
    return slot
  }

  /** Hands the frame records of one batch to every worker; one answer per worker, in worker order. */
  run(records: readonly Buffer[]): Promise<PartResult>[] {
    let total = 0
    for (const r of records) total += r.length
    // A fresh, unpooled buffer: it is copied (or, with one worker, moved) to the workers whole.
    const bytes = new Uint8Array(total)
    const ranges: [number, number][] = []
    let pos = 0
    for (const r of records) {
      bytes.set(r, pos)
      ranges.push([pos, pos + r.length])
      pos += r.length
    }
    const id = this.nextId++
    const job: DecodeJob = { type: 'job', id, bytes, records: ranges, workers: this.slots.length }
    const current = this.opts.registry.current()
    return this.slots.map((slot) => {
      if (slot.registry !== current) {
        slot.worker.postMessage({ type: 'registry', file: current.file })
        slot.registry = current
      }
      return new Promise<PartResult>((resolve, reject) => {
        slot.pending.set(id, { resolve, reject })
        slot.worker.postMessage(job, this.slots.length === 1 ? [bytes.buffer] : [])
      })
    })
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }
}

/**
 * `DECODE_WORKERS`: a number is taken as it is. `auto` leaves a core to the main thread (MQTT, the
 * journal, the API) and one to InfluxDB and the rest of the machine, and gives the others to
 * decoding, at most 8; on two cores or fewer that is none: there a worker measured more CPU per
 * point, a lower ceiling and 50-100 MB more memory, and an acknowledgement no shorter beyond the noise
 * (docs/decisions.md, "Decode workers").
 */
export function decodeWorkerCount(setting: number | 'auto', cores = availableParallelism()): number {
  if (setting !== 'auto') return setting
  return Math.max(0, Math.min(8, cores - 2))
}

/** The worker's module: compiled JavaScript, or (tests, `npm run dev`) TypeScript loaded through tsx. */
function startWorker(init: DecodeWorkerInit): Worker {
  const here = import.meta.url
  if (here.endsWith('.js')) return new Worker(new URL('./decode-worker.js', here), { workerData: init })
  // tsx is a development dependency: only a run from source comes here.
  const tsx = pathToFileURL(join(dirname(createRequire(here).resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs')).href
  const code = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(new URL('./decode-worker.ts', here).href)})`
  return new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { workerData: init })
}
