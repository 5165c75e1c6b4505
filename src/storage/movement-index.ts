import type { MovementQuery } from './ports.js'
import type { MovementRow } from '../domain/material-movements.js'
import type { MovementKind } from '../domain/records.js'

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

/** One series (its tags), shared by its rows, which it holds in time order: with a timestamp, what InfluxDB keys a point by. */
interface Series {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  readonly movement: MovementKind
  readonly rows: Held[]
}

/**
 * A held row: the series' tags are read through it (prototype getters cost no
 * memory per row). `dead` once a later point of the same series and
 * timestamp replaced it.
 */
class Held {
  dead = false
  constructor(
    readonly s: Series,
    readonly tsMs: number,
    readonly material: string,
    readonly lot: string,
    readonly quantity: number,
    readonly unit: string,
    readonly workOrder: string | null,
    readonly warning: string | null,
  ) {}
  get zone() { return this.s.zone }
  get factory() { return this.s.factory }
  get line() { return this.s.line }
  get machine() { return this.s.machine }
  get movement() { return this.s.movement }
  plain(): MovementRow {
    const s = this.s
    return { tsMs: this.tsMs, zone: s.zone, factory: s.factory, line: s.line, machine: s.machine, movement: s.movement, material: this.material, lot: this.lot, quantity: this.quantity, unit: this.unit, workOrder: this.workOrder, warning: this.warning }
  }
}

const sameRow = (a: Held, b: MovementRow) =>
  a.material === b.material && a.lot === b.lot && a.quantity === b.quantity && a.unit === b.unit && a.workOrder === b.workOrder && a.warning === b.warning

/** The index of the first row at or after `tsMs` in a series' time-ordered rows. */
function lowerBound(rows: readonly Held[], tsMs: number): number {
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (rows[mid]!.tsMs < tsMs) lo = mid + 1
    else hi = mid
  }
  return lo
}

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
  private bySeries = new Map<string, Series>()
  private byLine = new Map<string, Series[]>()
  private byLot = new Map<string, Held[]>()
  private byOrder = new Map<string, Held[]>()
  /** Interned strings: materials and units repeat on many rows, lots and work orders on several. */
  private strings = new Map<string, string>()
  private live = 0
  /** Nothing before this is known to be held; +Infinity until a load completes (`markComplete`). */
  completeFromMs = Number.POSITIVE_INFINITY
  /** Where the last prune left the oldest row kept. */
  private prunedFromMs = Number.NEGATIVE_INFINITY

  /** Everything from `fromMs` on is now held (a load of that span completed, and every later movement is added). */
  markComplete(fromMs: number): void {
    this.completeFromMs = Math.max(fromMs, this.prunedFromMs)
  }

  /** Movements held (a replaced one no longer counts). */
  get size(): number {
    return this.live
  }

  add(row: MovementRow): void {
    const s = this.seriesOf(row)
    const rows = s.rows
    let at = rows.length
    if (at > 0 && rows[at - 1]!.tsMs >= row.tsMs) {
      at = lowerBound(rows, row.tsMs)
      const held = rows[at]
      if (held && held.tsMs === row.tsMs) {
        if (sameRow(held, row)) return
        held.dead = true
        this.live--
        rows.splice(at, 1)
      }
    }
    const h = new Held(s, row.tsMs, this.intern(row.material), this.intern(row.lot), row.quantity, this.intern(row.unit), row.workOrder === null ? null : this.intern(row.workOrder), row.warning)
    rows.splice(at, 0, h)
    this.live++
    push(this.byLot, h.lot, h)
    if (h.workOrder !== null) push(this.byOrder, orderOf(h), h)
  }

  /** The rows `q` asks for, in time order, at most `limit`; undefined when the index cannot answer it. */
  answer(q: MovementQuery, limit: number): { rows: MovementRow[]; truncated: boolean } | undefined {
    if (q.startMs < this.completeFromMs) return undefined
    let lists: (readonly Held[] | undefined)[]
    if (q.lots !== undefined) lists = q.lots.map((lot) => this.byLot.get(lot))
    else if (q.orders !== undefined) lists = q.orders.map((o) => this.byOrder.get(orderOf(o)))
    else if (q.scope.line !== undefined && q.scope.factory !== undefined && q.scope.zone !== undefined) lists = (this.byLine.get(lineOf(q.scope)) ?? []).filter((s) => q.movements.includes(s.movement)).map((s) => s.rows)
    else return undefined
    const hits = new Set<Held>()
    for (const list of lists) {
      if (!list) continue
      for (const r of list) if (!r.dead && matchesQuery(r, q)) hits.add(r)
    }
    const rows = [...hits].sort((a, b) => a.tsMs - b.tsMs)
    return { rows: rows.slice(0, limit).map((r) => r.plain()), truncated: rows.length > limit }
  }

  /**
   * Drops the movements before `cutoffMs`, and then the oldest until at most
   * `maxRows` remain; `completeFromMs` moves past what was dropped.
   */
  prune(cutoffMs: number, maxRows: number): void {
    let from = cutoffMs
    const all = [...this.bySeries.values()]
    let kept = 0
    for (const s of all) kept += s.rows.length - lowerBound(s.rows, from)
    if (kept > maxRows) {
      // Every row from the new start on stays (ties included), so the index stays complete from there.
      const times = new Float64Array(kept)
      let i = 0
      for (const s of all) for (let j = lowerBound(s.rows, from); j < s.rows.length; j++) times[i++] = s.rows[j]!.tsMs
      from = times.sort()[kept - maxRows]!
    }
    if (all.some((s) => s.rows.length > 0 && s.rows[0]!.tsMs < from)) {
      const keep = all.flatMap((s) => s.rows.slice(lowerBound(s.rows, from)))
      this.bySeries = new Map()
      this.byLine = new Map()
      this.byLot = new Map()
      this.byOrder = new Map()
      this.strings = new Map()
      this.live = 0
      for (const r of keep.sort((a, b) => a.tsMs - b.tsMs)) this.add(r.plain())
    }
    this.prunedFromMs = Math.max(this.prunedFromMs, from)
    if (this.completeFromMs !== Number.POSITIVE_INFINITY) this.completeFromMs = Math.max(this.completeFromMs, from)
  }

  private seriesOf(row: MovementRow): Series {
    const key = `${row.zone}/${row.factory}/${row.line}/${row.machine}/${row.movement}`
    let s = this.bySeries.get(key)
    if (!s) {
      s = { zone: this.intern(row.zone), factory: this.intern(row.factory), line: this.intern(row.line), machine: this.intern(row.machine), movement: row.movement, rows: [] }
      this.bySeries.set(key, s)
      const line = lineOf(row)
      const list = this.byLine.get(line)
      if (list) list.push(s)
      else this.byLine.set(line, [s])
    }
    return s
  }

  private intern(str: string): string {
    const known = this.strings.get(str)
    if (known !== undefined) return known
    this.strings.set(str, str)
    return str
  }
}

function push(map: Map<string, Held[]>, key: string, row: Held): void {
  const list = map.get(key)
  if (list) list.push(row)
  else map.set(key, [row])
}
