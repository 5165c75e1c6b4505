import { Gauge, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import { parseLine } from '../domain/line-protocol.js'
import type { MovementRow } from '../domain/material-movements.js'
import { MEASUREMENTS } from '../domain/measurements.js'
import { MovementIndex } from '../storage/movement-index.js'
import { MOVEMENTS, type MovementKind } from '../domain/records.js'
import type { AcceptedListener } from '../pipeline/processor.js'
import type { MaterialsReader } from '../storage/ports.js'
import { indexUpkeep } from './index-upkeep.js'

export interface MaterialIndexOptions {
  /** Where movements are read when the index cannot answer, and loaded from at start-up. */
  readonly db: MaterialsReader
  /** Movements held at most (0: no index); past it the oldest are dropped. */
  readonly maxMovements: number
  /** How far back the index holds movements (and loads them at start-up). */
  readonly horizonMs: number
  readonly registry: Registry
  readonly log: Logger
  readonly now?: () => number
  /** After a failed load, the next try (default a minute). */
  readonly retryMs?: number
}

const DAY_MS = 86_400_000
const PRUNE_EVERY_MS = 3_600_000
const MATERIAL_PREFIX = MEASUREMENTS.material + ','

/** A material line this service built, as the row InfluxDB would give back for it. */
export function movementOfLine(text: string): MovementRow | undefined {
  if (!text.startsWith(MATERIAL_PREFIX)) return undefined
  const p = parseLine(text)
  if (!p || !(MOVEMENTS as readonly string[]).includes(p.tags.movement ?? '')) return undefined
  const str = (v: unknown) => (typeof v === 'string' ? v : null)
  return {
    tsMs: p.tsMs,
    zone: p.tags.zone ?? '',
    factory: p.tags.factory ?? '',
    line: p.tags.line ?? '',
    machine: p.tags.machine ?? '',
    movement: p.tags.movement as MovementKind,
    material: str(p.fields.material) ?? '',
    lot: str(p.fields.lot) ?? '',
    quantity: typeof p.fields.quantity === 'number' ? p.fields.quantity : 0,
    unit: str(p.fields.unit) ?? '',
    workOrder: str(p.fields.work_order),
    warning: str(p.fields.warning),
  }
}

/**
 * The movement index of one service (docs/materials.md, "The movement
 * index"): fed by the movements this process accepts, loaded at start-up with
 * the horizon's movements InfluxDB holds, and put in front of the database
 * reader, which answers whatever the index cannot (a window older than what
 * it holds, or a query no index narrows).
 */
export function createMaterialIndex(o: MaterialIndexOptions) {
  const now = o.now ?? Date.now
  const index = new MovementIndex()
  let loaded = false
  // Up to a day past the horizon is held, so the columns are compacted about once a day, not every hour.
  const prune = () => index.prune(now() - o.horizonMs - DAY_MS, o.maxMovements)
  const upkeep = indexUpkeep({ prune, pruneEveryMs: PRUNE_EVERY_MS, retryMs: o.retryMs })
  new Gauge({ name: 'iiot_material_index_movements', help: 'material movements held by the movement index', registers: [o.registry], collect() { this.set(index.size) } })
  new Gauge({ name: 'iiot_material_index_loaded', help: '1 once the movement index holds its whole horizon and answers trace reads', registers: [o.registry], collect() { this.set(loaded ? 1 : 0) } })

  /** Movements decoded while the load runs: added after it, so each series is built oldest first (appends, not inserts). */
  let pending: MovementRow[] | undefined = []
  const listener: AcceptedListener = (accepted) => {
    if (accepted.topic.kind !== 'material') return
    for (const text of accepted.lines) {
      const row = movementOfLine(text)
      if (!row) continue
      if (pending) pending.push(row)
      else index.add(row)
    }
    if (index.size > o.maxMovements * 1.1) prune()
  }

  const reader: MaterialsReader = {
    async movements(q, limit) {
      return index.answer(q, limit) ?? o.db.movements(q, limit)
    },
    covers: (startMs) => startMs >= index.completeFromMs,
    inspectionsOfLots: (...args) => o.db.inspectionsOfLots(...args),
  }

  return {
    reader,
    listener,
    get loaded() {
      return loaded
    },
    /**
     * Loads the horizon from InfluxDB, a day at a time, newest first; the
     * index answers once all of it is in. A failure (InfluxDB down at
     * start-up) leaves the database reader answering everything, is logged,
     * and the load is tried again a minute later.
     */
    load,
    close: upkeep.close,
  }

  async function load(): Promise<void> {
    const t0 = now()
    const from = t0 - o.horizonMs
    const days: MovementRow[][] = []
    try {
      let completeFrom = from
      let held = 0
      for (let end = t0 + DAY_MS; end > from && !upkeep.closed; end -= DAY_MS) {
        const start = Math.max(from, end - DAY_MS)
        const res = await o.db.movements({ scope: {}, movements: [...MOVEMENTS], startMs: start, endMs: end }, o.maxMovements)
        // Past the bound, the index holds the newest days whole and answers windows within them.
        if (res.truncated || held + res.rows.length > o.maxMovements) {
          completeFrom = end
          o.log.warn({ maxMovements: o.maxMovements, completeFrom: new Date(end).toISOString() }, 'MATERIAL_INDEX_MAX_MOVEMENTS reached while loading: older windows read InfluxDB')
          break
        }
        days.push(res.rows)
        held += res.rows.length
      }
      if (upkeep.closed) return
      for (let d = days.length - 1; d >= 0; d--) for (const r of days[d]!) index.add(r)
      index.markComplete(completeFrom)
      loaded = true
      o.log.info({ movements: index.size, ms: now() - t0 }, 'material movement index loaded')
    } catch (err) {
      o.log.warn({ err }, 'material movement index not loaded: traces read InfluxDB; trying again later')
      upkeep.retryLater(load)
    } finally {
      // What was decoded meanwhile is held either way: the index stays current if a later load completes it.
      const decoded = pending ?? []
      pending = undefined
      for (const r of decoded) index.add(r)
      prune()
    }
  }
}
