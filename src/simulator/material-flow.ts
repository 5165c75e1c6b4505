import { VERDICT_UNSPECIFIED, type InspectionMsg, type MovementMsg } from './messages.js'
import type { Prng } from './prng.js'

/** What one production report of a machine made: the lot its parts went into. */
export interface ProducedOutput {
  readonly workOrder: string
  readonly product: string
  readonly lot: string
  readonly good: number
  readonly reject: number
  readonly tsMs: number
}

export interface FlowEvents {
  readonly movements: MovementMsg[]
  readonly inspections: InspectionMsg[]
}

export const RAW_MATERIAL = 'steel-bar'
export const KG_PER_PART = 0.85
export const SUPPLIER_LOT_KG = 300
/** Share of supplier lots that are bad: soft steel, which incoming and final hardness checks show. */
export const BAD_LOT_SHARE = 0.08
export const HARDNESS = { characteristic: 'material.hardness', lsl: 40, usl: 50, target: 45, unit: 'HRC' } as const

const MV = { received: 1, loaded: 2, consumed: 3, produced: 4, scrapped: 5, unloaded: 6 } as const
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

export interface LineFlow {
  /** The movements (and inspections) behind one production report of the machine at `stage` (0 = first on the line). */
  produced(stage: number, out: ProducedOutput): FlowEvents
}

/**
 * Material through one line (docs/materials.md): the first machine receives
 * and loads supplier lots of steel bar and consumes them by weight; each
 * later machine loads and consumes the lot its upstream machine produced
 * last; every machine produces its own lot and scraps its rejects. A bad
 * supplier lot fails its incoming hardness check, and so does every
 * finished lot (the last machine's) made from it.
 */
export function createLineFlow(o: { line: string; stages: number; prng: Prng; stamp: string }): LineFlow {
  let supplierNo = 0
  let supplier: { lot: string; remaining: number; bad: boolean } | undefined
  const lastLot: ({ lot: string; product: string; bad: boolean } | undefined)[] = Array.from({ length: o.stages }, () => undefined)
  const loaded: (string | undefined)[] = Array.from({ length: o.stages }, () => undefined)
  const lastMs: number[] = Array.from({ length: o.stages }, () => 0)

  const hardness = (lot: string, bad: boolean, tsMs: number): InspectionMsg => {
    const value = round(bad ? o.prng.normal(37, 1.2) : o.prng.normal(45, 1.2), 1)
    return { ...HARDNESS, value, verdict: VERDICT_UNSPECIFIED, defectCode: value < HARDNESS.lsl ? 'soft-material' : '', lot, tsMs }
  }

  return {
    produced(stage, out) {
      const ev: FlowEvents = { movements: [], inspections: [] }
      const parts = out.good + out.reject
      if (parts === 0) return ev
      // Every movement of a report gets its own millisecond, after the previous report's (one point per movement and time).
      const t = Math.max(out.tsMs, lastMs[stage]! + 10)
      lastMs[stage] = t
      let bad = false
      if (stage === 0) {
        let need = parts * KG_PER_PART
        for (let k = 0; need > 1e-9; k++) {
          if (!supplier || supplier.remaining <= 1e-9) {
            const lot = `SUP-${o.line}-${o.stamp}-${++supplierNo}`
            supplier = { lot, remaining: SUPPLIER_LOT_KG, bad: o.prng.chance(BAD_LOT_SHARE) }
            ev.movements.push({ movement: MV.received, material: RAW_MATERIAL, lot, quantity: SUPPLIER_LOT_KG, unit: 'kg', workOrder: '', tsMs: t - 8 + k })
            ev.movements.push({ movement: MV.loaded, material: RAW_MATERIAL, lot, quantity: SUPPLIER_LOT_KG, unit: 'kg', workOrder: '', tsMs: t - 6 + k })
            ev.inspections.push(hardness(lot, supplier.bad, t - 8 + k))
          }
          const take = Math.min(need, supplier.remaining)
          ev.movements.push({ movement: MV.consumed, material: RAW_MATERIAL, lot: supplier.lot, quantity: round(take, 3), unit: 'kg', workOrder: out.workOrder, tsMs: t - 4 + k })
          supplier.remaining -= take
          need -= take
          bad ||= supplier.bad
        }
      } else {
        const up = lastLot[stage - 1]
        if (up) {
          if (loaded[stage] !== up.lot) {
            if (loaded[stage] !== undefined) ev.movements.push({ movement: MV.unloaded, material: up.product, lot: loaded[stage]!, quantity: 0, unit: 'pcs', workOrder: '', tsMs: t - 7 })
            ev.movements.push({ movement: MV.loaded, material: up.product, lot: up.lot, quantity: 0, unit: 'pcs', workOrder: '', tsMs: t - 6 })
            loaded[stage] = up.lot
          }
          ev.movements.push({ movement: MV.consumed, material: up.product, lot: up.lot, quantity: parts, unit: 'pcs', workOrder: out.workOrder, tsMs: t - 4 })
          bad = up.bad
        }
      }
      ev.movements.push({ movement: MV.produced, material: out.product, lot: out.lot, quantity: out.good, unit: 'pcs', workOrder: out.workOrder, tsMs: t })
      if (out.reject > 0) ev.movements.push({ movement: MV.scrapped, material: out.product, lot: out.lot, quantity: out.reject, unit: 'pcs', workOrder: out.workOrder, tsMs: t })
      const prev = lastLot[stage]
      lastLot[stage] = { lot: out.lot, product: out.product, bad: bad || (prev?.lot === out.lot && prev.bad) }
      if (stage === o.stages - 1) ev.inspections.push(hardness(out.lot, lastLot[stage]!.bad, t))
      return ev
    },
  }
}
