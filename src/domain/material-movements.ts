import type { LotLink, LotOrigin, MachineRef } from './genealogy.js'
import type { MovementKind } from './records.js'

/** A stored material movement, as read back (docs/materials.md). */
export interface MovementRow extends MachineRef {
  readonly tsMs: number
  readonly movement: MovementKind
  readonly material: string
  readonly lot: string
  readonly quantity: number
  readonly unit: string
  readonly workOrder: string | null
  readonly warning: string | null
}

/** Movements of one lot at one machine in one work order, summed (an origin's fields, any movement). */
export interface LotUse extends Omit<LotOrigin, 'movement'> {
  readonly movement: MovementKind
}

const machineOf = (r: MachineRef): string => `${r.zone}/${r.factory}/${r.line}/${r.machine}`
/** The key of a work order on a machine: what joins a machine's inputs to its outputs. */
export const orderKey = (r: MachineRef & { readonly workOrder: string | null }): string => `${machineOf(r)}#${r.workOrder ?? ''}`

/** Rows summed per (movement, lot, machine, work order, unit), in time order of their first movement. */
export function lotUses(rows: readonly MovementRow[]): LotUse[] {
  const out = new Map<string, { -readonly [K in keyof LotUse]: LotUse[K] }>()
  for (const r of rows) {
    const k = `${r.movement}|${r.lot}|${orderKey(r)}|${r.unit}`
    const u = out.get(k)
    if (!u) {
      out.set(k, { zone: r.zone, factory: r.factory, line: r.line, machine: r.machine, lot: r.lot, movement: r.movement, material: r.material, workOrder: r.workOrder, quantity: r.quantity, unit: r.unit, firstMs: r.tsMs, lastMs: r.tsMs })
      continue
    }
    u.quantity += r.quantity
    u.firstMs = Math.min(u.firstMs, r.tsMs)
    u.lastMs = Math.max(u.lastMs, r.tsMs)
  }
  return [...out.values()].sort((a, b) => a.firstMs - b.firstMs || a.lot.localeCompare(b.lot))
}

/** The origins (produced or received) among `uses`, by lot. */
export function originsByLot(uses: readonly LotUse[]): Map<string, LotOrigin[]> {
  const out = new Map<string, LotOrigin[]>()
  for (const u of uses) {
    if (u.movement !== 'produced' && u.movement !== 'received') continue
    let list = out.get(u.lot)
    if (!list) out.set(u.lot, (list = []))
    list.push({ ...u, movement: u.movement })
  }
  return out
}

/**
 * Links from consumptions to the lots the same work order produced on the
 * same machine: every lot a work order consumed is an input of every lot it
 * produced there (docs/materials.md, "Trace semantics").
 */
export function linksOf(consumed: readonly LotUse[], produced: readonly LotUse[]): LotLink[] {
  const outputs = new Map<string, LotUse[]>()
  for (const p of produced) {
    if (p.movement !== 'produced') continue
    const k = orderKey(p)
    let list = outputs.get(k)
    if (!list) outputs.set(k, (list = []))
    list.push(p)
  }
  const links: LotLink[] = []
  for (const c of consumed) {
    if (c.movement !== 'consumed' || c.workOrder === null) continue
    for (const p of outputs.get(orderKey(c)) ?? []) {
      links.push({ zone: c.zone, factory: c.factory, line: c.line, machine: c.machine, input: c.lot, output: p.lot, material: c.material, workOrder: c.workOrder, quantity: c.quantity, unit: c.unit, firstMs: c.firstMs, lastMs: c.lastMs })
    }
  }
  return links
}
