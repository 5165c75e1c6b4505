import type { MovementQuery } from '../storage/ports.js'
import type { MovementRow } from './material-movements.js'

/** Whether `row` is one `q` asks for (the semantics of the materials reader port, storage/ports.ts). */
export function matchesQuery(row: MovementRow, q: MovementQuery): boolean {
  const s = q.scope
  return (
    q.movements.includes(row.movement) &&
    (s.zone === undefined || row.zone === s.zone) &&
    (s.factory === undefined || row.factory === s.factory) &&
    (s.line === undefined || row.line === s.line) &&
    (s.machine === undefined || row.machine === s.machine) &&
    (q.lots === undefined || q.lots.includes(row.lot)) &&
    (q.workOrder === undefined || row.workOrder === q.workOrder) &&
    (q.orders === undefined || q.orders.some((o) => o.zone === row.zone && o.factory === row.factory && o.line === row.line && o.machine === row.machine && o.workOrder === row.workOrder)) &&
    row.tsMs >= q.startMs &&
    row.tsMs < q.endMs
  )
}

const lineOf = (r: { zone?: string | undefined; factory?: string | undefined; line?: string | undefined }) => `${r.zone}/${r.factory}/${r.line}`
const orderOf = (r: { zone: string; factory: string; line: string; machine: string; workOrder: string | null }) => `${r.zone}/${r.factory}/${r.line}/${r.machine}#${r.workOrder}`
/** A point's series (its tags); with its timestamp, what InfluxDB keys it by: a second point with the same key overwrites the first. */
const seriesOf = (r: MovementRow) => `${r.zone}/${r.factory}/${r.line}/${r.machine}/${r.movement}`

/** A held row; `dead` once a later point with the same series and timestamp replaced it. */
type Held = MovementRow & { dead?: true }

const sameRow = (a: MovementRow, b: MovementRow) =>
  a.material === b.material && a.lot === b.lot && a.quantity === b.quantity && a.unit === b.unit && a.workOrder === b.workOrder && a.warning === b.warning

/**
 * Material movements held in memory, indexed by lot, by work order on a
 * machine and by line, so a trace's reads cost a map lookup instead of a
 * query (docs/materials.md, "The movement index"). It answers a query only
 * when it holds everything the query's window can hold: from
 * `completeFromMs` on (the start of what was loaded at start-up, raised when
 * old movements are dropped); `answer` returns undefined otherwise, and for
 * queries no index narrows (no lots, no orders, no line), which the database
 * answers better.
 *
 * Movements are added as written. A point added again (a replay after a
 * crash, or one both loaded and decoded at start-up) is held once; one with
 * the same series and timestamp but other fields replaces the first, as
 * InfluxDB overwrites it.
 */
export class MovementIndex {
  private rows: Held[] = []
  private bySeries = new Map<string, Map<number, Held>>()
  private byLot = new Map<string, Held[]>()
  private byOrder = new Map<string, Held[]>()
  private byLine = new Map<string, Held[]>()
  /** Interned strings: tags, materials and units repeat on every row, lots and work orders on several. */
  private strings = new Map<string, string>()
  /** Nothing before this is known to be held; +Infinity until a load completes (`markComplete`). */
  completeFromMs = Number.POSITIVE_INFINITY
  /** Where the last prune left the oldest row kept. */
  private prunedFromMs = Number.NEGATIVE_INFINITY

  /** Everything from `fromMs` on is now held (a load of that span completed, and every later movement is added). */
  markComplete(fromMs: number): void {
    this.completeFromMs = Math.max(fromMs, this.prunedFromMs)
  }

  get size(): number {
    return this.rows.length
  }

  add(row: MovementRow): void {
    const key = seriesOf(row)
    let points = this.bySeries.get(key)
    if (!points) this.bySeries.set(key, (points = new Map()))
    const held = points.get(row.tsMs)
    if (held && sameRow(held, row)) return
    if (held) held.dead = true
    const r: Held = {
      tsMs: row.tsMs,
      zone: this.intern(row.zone),
      factory: this.intern(row.factory),
      line: this.intern(row.line),
      machine: this.intern(row.machine),
      movement: row.movement,
      material: this.intern(row.material),
      lot: this.intern(row.lot),
      quantity: row.quantity,
      unit: this.intern(row.unit),
      workOrder: row.workOrder === null ? null : this.intern(row.workOrder),
      warning: row.warning,
    }
    points.set(r.tsMs, r)
    this.rows.push(r)
    this.indexRow(r)
  }

  /** The rows `q` asks for, in time order, at most `limit`; undefined when the index cannot answer it. */
  answer(q: MovementQuery, limit: number): { rows: MovementRow[]; truncated: boolean } | undefined {
    if (q.startMs < this.completeFromMs) return undefined
    let lists: (Held[] | undefined)[]
    if (q.lots !== undefined) lists = q.lots.map((lot) => this.byLot.get(lot))
    else if (q.orders !== undefined) lists = q.orders.map((o) => this.byOrder.get(orderOf(o)))
    else if (q.scope.line !== undefined && q.scope.factory !== undefined && q.scope.zone !== undefined) lists = [this.byLine.get(lineOf(q.scope))]
    else return undefined
    const hits = new Set<Held>()
    for (const list of lists) {
      if (!list) continue
      for (const r of list) if (r.dead !== true && matchesQuery(r, q)) hits.add(r)
    }
    const rows = [...hits].sort((a, b) => a.tsMs - b.tsMs)
    return { rows: rows.slice(0, limit), truncated: rows.length > limit }
  }

  /**
   * Drops the movements before `cutoffMs`, and then the oldest until at most
   * `maxRows` remain; `completeFromMs` moves past what was dropped.
   */
  prune(cutoffMs: number, maxRows: number): void {
    let keep = this.rows.filter((r) => r.tsMs >= cutoffMs && r.dead !== true)
    let from = cutoffMs
    if (keep.length > maxRows) {
      // Every row from the new start on stays (ties included), so the index stays complete from there.
      from = Float64Array.from(keep, (r) => r.tsMs).sort()[keep.length - maxRows]!
      keep = keep.filter((r) => r.tsMs >= from)
    }
    if (keep.length < this.rows.length) {
      this.rows = []
      this.bySeries = new Map()
      this.byLot = new Map()
      this.byOrder = new Map()
      this.byLine = new Map()
      this.strings = new Map()
      for (const r of keep) this.add(r)
    }
    this.prunedFromMs = Math.max(this.prunedFromMs, from)
    if (this.completeFromMs !== Number.POSITIVE_INFINITY) this.completeFromMs = Math.max(this.completeFromMs, from)
  }

  private indexRow(r: Held): void {
    push(this.byLot, r.lot, r)
    if (r.workOrder !== null) push(this.byOrder, orderOf(r), r)
    push(this.byLine, lineOf(r), r)
  }

  private intern(s: string): string {
    const known = this.strings.get(s)
    if (known !== undefined) return known
    this.strings.set(s, s)
    return s
  }
}

function push(map: Map<string, Held[]>, key: string, row: Held): void {
  const list = map.get(key)
  if (list) list.push(row)
  else map.set(key, [row])
}
