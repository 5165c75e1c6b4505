import type { MovementRow } from '../domain/material-movements.js'
import type { MovementKind } from '../domain/records.js'
import type { MovementQuery } from './ports.js'

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
const machineOf = (r: { zone: string; factory: string; line: string; machine: string }) => `${r.zone}/${r.factory}/${r.line}/${r.machine}`
const NONE = -1

/** One series (its tags): with a timestamp, what InfluxDB keys a point by. `rows` are its row ids in time order. */
interface Series {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  readonly movement: MovementKind
  readonly machineId: number
  rows: Int32Array
  count: number
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
 * Rows are columns of typed arrays and strings are held once, so a million
 * movements are a few dozen objects to the garbage collector, not millions
 * (a pause of the whole service otherwise).
 *
 * Movements are added as written. A point added again (a replay after a
 * crash, or one both loaded and decoded at start-up) is held once; one with
 * the same series and timestamp but other fields replaces the first, as
 * InfluxDB overwrites it.
 */
export class MovementIndex {
  private n = 0
  private ts = new Float64Array(1024)
  private qty = new Float64Array(1024)
  /** Per row: its series, and ids of its strings (NONE for null). */
  private ser = new Int32Array(1024)
  private cols = { material: new Int32Array(1024), lot: new Int32Array(1024), unit: new Int32Array(1024), wo: new Int32Array(1024), warning: new Int32Array(1024) }
  private dead = new Uint8Array(1024)
  private live = 0
  /** The oldest row's time (or less: a row replaced since does not raise it), so a prune with nothing to drop costs nothing. */
  private oldestMs = Number.POSITIVE_INFINITY
  private strs: string[] = []
  private strIds = new Map<string, number>()
  private series: Series[] = []
  private seriesIds = new Map<string, number>()
  private machineIds = new Map<string, number>()
  private byLine = new Map<string, number[]>()
  private byLot = new Map<number, number[]>()
  /** Machine id, then work order id: row ids. */
  private byOrder = new Map<number, Map<number, number[]>>()
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
    const sid = this.seriesOf(row)
    const s = this.series[sid]!
    let at = s.count
    if (at > 0 && this.ts[s.rows[at - 1]!]! >= row.tsMs) {
      at = this.lowerBound(s, row.tsMs)
      const held = at < s.count ? s.rows[at]! : NONE
      if (held !== NONE && this.ts[held] === row.tsMs) {
        if (this.sameAs(held, row)) return
        this.dead[held] = 1
        this.live--
        s.rows.copyWithin(at, at + 1, s.count)
        s.count--
      }
    }
    const id = this.append(row, sid)
    if (s.count === s.rows.length) s.rows = grow(s.rows)
    s.rows.copyWithin(at + 1, at, s.count)
    s.rows[at] = id
    s.count++
    this.live++
    push(this.byLot, this.cols.lot[id]!, id)
    const wo = this.cols.wo[id]!
    if (wo !== NONE) {
      let orders = this.byOrder.get(s.machineId)
      if (!orders) this.byOrder.set(s.machineId, (orders = new Map()))
      push(orders, wo, id)
    }
  }

  /** The rows `q` asks for, in time order, at most `limit`; undefined when the index cannot answer it. */
  answer(q: MovementQuery, limit: number): { rows: MovementRow[]; truncated: boolean } | undefined {
    if (q.startMs < this.completeFromMs) return undefined
    const ids: number[] = []
    if (q.lots !== undefined) {
      for (const lot of q.lots) ids.push(...(this.listOf(this.byLot, lot) ?? []))
    } else if (q.orders !== undefined) {
      for (const o of q.orders) {
        const m = this.machineIds.get(machineOf(o))
        ids.push(...((m !== undefined && this.listOf(this.byOrder.get(m), o.workOrder)) || []))
      }
    } else if (q.scope.line !== undefined && q.scope.factory !== undefined && q.scope.zone !== undefined) {
      for (const sid of this.byLine.get(lineOf(q.scope)) ?? []) {
        const s = this.series[sid]!
        if (!q.movements.includes(s.movement)) continue
        for (let i = this.lowerBound(s, q.startMs); i < s.count && this.ts[s.rows[i]!]! < q.endMs; i++) ids.push(s.rows[i]!)
      }
    } else return undefined
    const rows: MovementRow[] = []
    for (const id of new Set(ids)) {
      if (this.dead[id] === 1) continue
      const r = this.row(id)
      if (matchesQuery(r, q)) rows.push(r)
    }
    rows.sort((a, b) => a.tsMs - b.tsMs)
    return { rows: rows.slice(0, limit), truncated: rows.length > limit }
  }

  /**
   * Drops the movements before `cutoffMs`, and then the oldest until at most
   * `maxRows` remain; `completeFromMs` moves past what was dropped. Cheap
   * when there is nothing to drop; otherwise the columns are compacted in
   * place (row ids renumbered in every list), without building rows again.
   */
  prune(cutoffMs: number, maxRows: number): void {
    if (this.oldestMs >= cutoffMs && this.live <= maxRows && this.n <= this.live * 2) return
    let from = cutoffMs
    if (this.live > maxRows) {
      // Every row from the new start on stays (ties included), so the index stays complete from there.
      const times: number[] = []
      for (let id = 0; id < this.n; id++) if (this.dead[id] === 0) times.push(this.ts[id]!)
      from = Math.max(from, Float64Array.from(times).sort()[this.live - maxRows]!)
    }
    const newId = new Int32Array(this.n).fill(NONE)
    const cols = Object.values(this.cols)
    let next = 0
    let oldest = Number.POSITIVE_INFINITY
    for (let id = 0; id < this.n; id++) {
      if (this.dead[id] === 1 || this.ts[id]! < from) continue
      newId[id] = next
      this.ts[next] = this.ts[id]!
      this.qty[next] = this.qty[id]!
      this.ser[next] = this.ser[id]!
      for (const col of cols) col[next] = col[id]!
      this.dead[next] = 0
      oldest = Math.min(oldest, this.ts[next]!)
      next++
    }
    this.n = next
    this.live = next
    this.oldestMs = oldest
    const renumber = (ids: number[]): number[] => ids.map((id) => newId[id]!).filter((id) => id !== NONE)
    for (const s of this.series) {
      const kept = renumber(Array.from(s.rows.subarray(0, s.count)))
      s.rows = Int32Array.from(kept.length > 0 ? kept : [0])
      s.count = kept.length
    }
    const renumberAll = (map: Map<number, number[]>) => {
      for (const [key, ids] of map) {
        const kept = renumber(ids)
        if (kept.length > 0) map.set(key, kept)
        else map.delete(key)
      }
    }
    renumberAll(this.byLot)
    for (const orders of this.byOrder.values()) renumberAll(orders)
    this.dropUnusedStrings()
    this.prunedFromMs = Math.max(this.prunedFromMs, from)
    if (this.completeFromMs !== Number.POSITIVE_INFINITY) this.completeFromMs = Math.max(this.completeFromMs, from)
  }

  /** Once most held strings (lots and work orders of dropped rows) are no longer used, the table is built again from the used ones. */
  private dropUnusedStrings(): void {
    const used = new Uint8Array(this.strs.length)
    for (const col of Object.values(this.cols)) for (let id = 0; id < this.n; id++) if (col[id] !== NONE) used[col[id]!] = 1
    let count = 0
    for (const u of used) count += u
    if (count * 2 > this.strs.length) return
    const newStr = new Int32Array(this.strs.length).fill(NONE)
    const strs: string[] = []
    this.strIds = new Map()
    for (let i = 0; i < used.length; i++) {
      if (used[i] === 0) continue
      newStr[i] = strs.length
      this.strIds.set(this.strs[i]!, strs.length)
      strs.push(this.strs[i]!)
    }
    this.strs = strs
    for (const col of Object.values(this.cols)) for (let id = 0; id < this.n; id++) if (col[id] !== NONE) col[id] = newStr[col[id]!]!
    const rekey = <T>(map: Map<number, T>) => new Map([...map].map(([k, v]) => [newStr[k]!, v] as const))
    this.byLot = rekey(this.byLot)
    for (const [machine, orders] of this.byOrder) this.byOrder.set(machine, rekey(orders))
  }

  private row(id: number): MovementRow {
    const s = this.series[this.ser[id]!]!
    const c = this.cols
    return { tsMs: this.ts[id]!, zone: s.zone, factory: s.factory, line: s.line, machine: s.machine, movement: s.movement, material: this.strs[c.material[id]!]!, lot: this.strs[c.lot[id]!]!, quantity: this.qty[id]!, unit: this.strs[c.unit[id]!]!, workOrder: this.str(c.wo[id]!), warning: this.str(c.warning[id]!) }
  }

  private sameAs(id: number, r: MovementRow): boolean {
    const c = this.cols
    return this.strs[c.material[id]!] === r.material && this.strs[c.lot[id]!] === r.lot && this.qty[id] === r.quantity && this.strs[c.unit[id]!] === r.unit && this.str(c.wo[id]!) === r.workOrder && this.str(c.warning[id]!) === r.warning
  }

  private append(r: MovementRow, sid: number): number {
    if (this.n === this.ts.length) {
      this.ts = grow(this.ts)
      this.qty = grow(this.qty)
      this.ser = grow(this.ser)
      this.dead = grow(this.dead)
      const c = this.cols
      this.cols = { material: grow(c.material), lot: grow(c.lot), unit: grow(c.unit), wo: grow(c.wo), warning: grow(c.warning) }
    }
    const id = this.n++
    this.oldestMs = Math.min(this.oldestMs, r.tsMs)
    const c = this.cols
    this.ts[id] = r.tsMs
    this.qty[id] = r.quantity
    this.ser[id] = sid
    c.material[id] = this.id(r.material)
    c.lot[id] = this.id(r.lot)
    c.unit[id] = this.id(r.unit)
    c.wo[id] = r.workOrder === null ? NONE : this.id(r.workOrder)
    c.warning[id] = r.warning === null ? NONE : this.id(r.warning)
    return id
  }

  private seriesOf(r: MovementRow): number {
    const key = `${machineOf(r)}/${r.movement}`
    let sid = this.seriesIds.get(key)
    if (sid === undefined) {
      const machine = machineOf(r)
      let machineId = this.machineIds.get(machine)
      if (machineId === undefined) this.machineIds.set(machine, (machineId = this.machineIds.size))
      sid = this.series.length
      this.series.push({ zone: r.zone, factory: r.factory, line: r.line, machine: r.machine, movement: r.movement, machineId, rows: new Int32Array(16), count: 0 })
      this.seriesIds.set(key, sid)
      const line = this.byLine.get(lineOf(r))
      if (line) line.push(sid)
      else this.byLine.set(lineOf(r), [sid])
    }
    return sid
  }

  /** The position of the first row at or after `tsMs` in a series. */
  private lowerBound(s: Series, tsMs: number): number {
    let lo = 0
    let hi = s.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.ts[s.rows[mid]!]! < tsMs) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private listOf(map: Map<number, number[]> | undefined, str: string): number[] | undefined {
    const id = this.strIds.get(str)
    return id === undefined ? undefined : map?.get(id)
  }

  private id(str: string): number {
    let id = this.strIds.get(str)
    if (id === undefined) {
      id = this.strs.length
      this.strs.push(str)
      this.strIds.set(str, id)
    }
    return id
  }

  private str(id: number): string | null {
    return id === NONE ? null : this.strs[id]!
  }
}

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2)
  b.set(a)
  return b
}

function push(map: Map<number, number[]>, key: number, id: number): void {
  const list = map.get(key)
  if (list) list.push(id)
  else map.set(key, [id])
}
