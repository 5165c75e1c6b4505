import { orderKey, type MovementRow } from './material-movements.js'
import type { MachineRef } from './genealogy.js'

/** One line of a product's bill of materials: quantity of `material` per one unit of the product. */
export interface BomLine {
  readonly material: string
  readonly quantity: number
  readonly unit: string
}

export interface MaterialUse {
  readonly material: string
  readonly unit: string
  readonly consumed: number
  /** From the bill of materials: produced quantity × quantity per unit; null without one. */
  readonly expected: number | null
  /** consumed − expected, and as a share of expected; null without a bill of materials. */
  readonly variance: number | null
  readonly variancePct: number | null
}

export interface WorkOrderConsumption {
  readonly workOrder: string
  /** The material the work order produced (its product), null when it produced nothing in the window. */
  readonly product: string | null
  readonly produced: number
  readonly producedUnit: string | null
  readonly machines: readonly MachineRef[]
  readonly firstMs: number
  readonly lastMs: number
  readonly bom: boolean
  readonly materials: readonly MaterialUse[]
}

const round = (x: number) => Math.round(x * 1e6) / 1e6

/**
 * Consumption per work order and material against the product's bill of
 * materials (docs/materials.md): `rows` are the consumed and produced
 * movements of a window; `bomOf(factory, product)` the bill, if configured.
 * Quantities are summed per unit, never converted.
 */
export function consumptionByWorkOrder(rows: readonly MovementRow[], bomOf: (factory: string, product: string) => readonly BomLine[] | undefined): WorkOrderConsumption[] {
  interface Acc { factory: string; product: string | null; produced: number; producedUnit: string | null; machines: Map<string, MachineRef>; firstMs: number; lastMs: number; used: Map<string, { material: string; unit: string; consumed: number }> }
  const orders = new Map<string, Acc>()
  for (const r of rows) {
    if (r.workOrder === null || (r.movement !== 'consumed' && r.movement !== 'produced')) continue
    let a = orders.get(r.workOrder)
    if (!a) orders.set(r.workOrder, (a = { factory: r.factory, product: null, produced: 0, producedUnit: null, machines: new Map(), firstMs: r.tsMs, lastMs: r.tsMs, used: new Map() }))
    a.machines.set(orderKey({ ...r, workOrder: null }), { zone: r.zone, factory: r.factory, line: r.line, machine: r.machine })
    a.firstMs = Math.min(a.firstMs, r.tsMs)
    a.lastMs = Math.max(a.lastMs, r.tsMs)
    if (r.movement === 'produced') {
      a.product ??= r.material
      a.producedUnit ??= r.unit
      if (r.material === a.product && r.unit === a.producedUnit) a.produced += r.quantity
      continue
    }
    const k = `${r.material}|${r.unit}`
    const u = a.used.get(k) ?? { material: r.material, unit: r.unit, consumed: 0 }
    u.consumed += r.quantity
    a.used.set(k, u)
  }
  const out: WorkOrderConsumption[] = []
  for (const [workOrder, a] of orders) {
    const bom = a.product === null ? undefined : bomOf(a.factory, a.product)
    const materials: MaterialUse[] = []
    const planned = new Map((bom ?? []).map((b) => [`${b.material}|${b.unit}`, b]))
    for (const [k, u] of a.used) {
      const b = planned.get(k)
      planned.delete(k)
      materials.push(use(u.material, u.unit, u.consumed, bom ? (b ? b.quantity * a.produced : 0) : null))
    }
    for (const b of planned.values()) materials.push(use(b.material, b.unit, 0, b.quantity * a.produced))
    materials.sort((x, y) => x.material.localeCompare(y.material) || x.unit.localeCompare(y.unit))
    out.push({ workOrder, product: a.product, produced: round(a.produced), producedUnit: a.producedUnit, machines: [...a.machines.values()], firstMs: a.firstMs, lastMs: a.lastMs, bom: bom !== undefined, materials })
  }
  return out.sort((x, y) => x.firstMs - y.firstMs || x.workOrder.localeCompare(y.workOrder))
}

function use(material: string, unit: string, consumed: number, expected: number | null): MaterialUse {
  const variance = expected === null ? null : round(consumed - expected)
  return { material, unit, consumed: round(consumed), expected: expected === null ? null : round(expected), variance, variancePct: expected === null || expected === 0 ? null : round(((consumed - expected) / expected) * 100) }
}

export interface LoadedLot {
  readonly lot: string
  readonly material: string
  readonly unit: string
  readonly loadedMs: number
  readonly loaded: number
  readonly consumed: number
  readonly scrapped: number
  /** loaded − consumed − scrapped, at least 0. */
  readonly remaining: number
}

/**
 * What is loaded at each machine now, from its movements in time order: a
 * lot is on a machine from its last load until it is unloaded or, with
 * quantities, used up. Lots loaded before the rows begin are not known.
 */
export function loadedNow(rows: readonly MovementRow[]): Map<string, { machine: MachineRef; lots: LoadedLot[] }> {
  const state = new Map<string, { machine: MachineRef; lots: Map<string, { -readonly [K in keyof LoadedLot]: LoadedLot[K] }> }>()
  for (const r of [...rows].sort((a, b) => a.tsMs - b.tsMs)) {
    const key = orderKey({ ...r, workOrder: null })
    let m = state.get(key)
    if (!m) state.set(key, (m = { machine: { zone: r.zone, factory: r.factory, line: r.line, machine: r.machine }, lots: new Map() }))
    const lot = m.lots.get(r.lot)
    switch (r.movement) {
      case 'loaded':
        m.lots.set(r.lot, { lot: r.lot, material: r.material, unit: r.unit, loadedMs: r.tsMs, loaded: r.quantity, consumed: 0, scrapped: 0, remaining: r.quantity })
        break
      case 'consumed':
      case 'scrapped':
        if (!lot || lot.unit !== r.unit) break
        lot[r.movement] += r.quantity
        lot.remaining = Math.max(0, round(lot.loaded - lot.consumed - lot.scrapped))
        if (lot.remaining === 0 && lot.loaded > 0) m.lots.delete(r.lot)
        break
      case 'unloaded':
        m.lots.delete(r.lot)
        break
    }
  }
  const out = new Map<string, { machine: MachineRef; lots: LoadedLot[] }>()
  for (const [k, m] of state) if (m.lots.size > 0) out.set(k, { machine: m.machine, lots: [...m.lots.values()].map((l) => ({ ...l, consumed: round(l.consumed), scrapped: round(l.scrapped) })) })
  return out
}
