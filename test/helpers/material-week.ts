import { testRegistry } from './fixtures.js'

/** Movement codes of proto/iiot/v1/material.proto. */
export const MV = { received: 1, loaded: 2, consumed: 3, produced: 4, scrapped: 5, unloaded: 6 } as const

export interface WeekMessage {
  readonly topic: string
  readonly movements: Record<string, unknown>[]
}

const DAY = 86_400_000
const HOUR = 3_600_000

/**
 * The test registry plus a second line in factory fa (l2: m3, m4) and the
 * bills of materials of its two products.
 */
export async function materialRegistry(): Promise<Record<string, unknown>> {
  const reg = (await testRegistry()) as { zones: { factories: Record<string, unknown>[] }[] }
  const fa = reg.zones[0]!.factories[0]! as { lines: unknown[]; products?: unknown }
  fa.lines.push({ id: 'l2', machines: [{ id: 'm3', idealCycleTimeS: 10 }, { id: 'm4', idealCycleTimeS: 12 }] })
  fa.products = [
    { id: 'shaft-blank', bom: [{ material: 'steel', quantity: 2, unit: 'kg' }] },
    { id: 'shaft-assy', bom: [{ material: 'shaft-blank', quantity: 1, unit: 'pcs' }, { material: 'bolt', quantity: 2, unit: 'pcs' }] },
  ]
  return reg
}

/**
 * A hand-built week in factory fa, two lines (docs/materials.md has the picture):
 * l1: m1 cuts steel into blanks, m2 assembles blanks and bolts; l2: m3 and m4 the same.
 * Supplier lot S-STEEL-2 is bad: it went into W-2 (l1) and W-3 (l2), so into F-2 and F-3.
 * m4 consumes bolt lot S-BOLT-1 that was never loaded there (a warning).
 * are bad data: each is made from the other (a cycle).
 */
export function materialWeek(day0: number): WeekMessage[] {
  const at = (d: number, h: number, m = 0) => day0 + d * DAY + h * HOUR + m * 60_000
  const mv = (movement: keyof typeof MV, material: string, lot: string, quantity: number, unit: string, workOrder: string, tsMs: number) => ({ movement: MV[movement], material, lot, quantity, unit, workOrder, tsMs })
  const t = (line: string, machine: string) => `iiot/v1/za/fa/${line}/${machine}/material`
  return [
    // Day 0, l1/m1: steel arrives, WO-C1 cuts 40 kg of S-STEEL-1 into 20 blanks (W-1).
    { topic: t('l1', 'm1'), movements: [mv('received', 'steel', 'S-STEEL-1', 100, 'kg', '', at(0, 6)), mv('received', 'steel', 'S-STEEL-2', 100, 'kg', '', at(0, 6, 1)), mv('loaded', 'steel', 'S-STEEL-1', 100, 'kg', '', at(0, 7))] },
    { topic: t('l1', 'm1'), movements: [mv('consumed', 'steel', 'S-STEEL-1', 25, 'kg', 'WO-C1', at(0, 8)), mv('consumed', 'steel', 'S-STEEL-1', 15, 'kg', 'WO-C1', at(0, 9)), mv('produced', 'shaft-blank', 'W-1', 20, 'pcs', 'WO-C1', at(0, 10))] },
    // Day 1, l1/m1: WO-C2 cuts 30 kg of the bad S-STEEL-2 into 15 blanks (W-2); the rest of S-STEEL-1 is unloaded.
    { topic: t('l1', 'm1'), movements: [mv('unloaded', 'steel', 'S-STEEL-1', 60, 'kg', '', at(1, 6)), mv('loaded', 'steel', 'S-STEEL-2', 50, 'kg', '', at(1, 7)), mv('consumed', 'steel', 'S-STEEL-2', 30, 'kg', 'WO-C2', at(1, 8)), mv('produced', 'shaft-blank', 'W-2', 15, 'pcs', 'WO-C2', at(1, 10))] },
    // Day 2, l1/m2: WO-A1 assembles F-1 from W-1 and bolts; day 3, WO-A2 assembles F-2 from W-2 and 33 bolts (3 over the bill).
    { topic: t('l1', 'm2'), movements: [mv('received', 'bolt', 'S-BOLT-1', 500, 'pcs', '', at(2, 6)), mv('loaded', 'bolt', 'S-BOLT-1', 500, 'pcs', '', at(2, 7)), mv('scrapped', 'bolt', 'S-BOLT-1', 2, 'pcs', '', at(2, 7, 30))] },
    { topic: t('l1', 'm2'), movements: [mv('loaded', 'shaft-blank', 'W-1', 20, 'pcs', '', at(2, 7, 1)), mv('consumed', 'shaft-blank', 'W-1', 20, 'pcs', 'WO-A1', at(2, 8)), mv('consumed', 'bolt', 'S-BOLT-1', 40, 'pcs', 'WO-A1', at(2, 8, 1)), mv('produced', 'shaft-assy', 'F-1', 20, 'pcs', 'WO-A1', at(2, 12))] },
    { topic: t('l1', 'm2'), movements: [mv('loaded', 'shaft-blank', 'W-2', 15, 'pcs', '', at(3, 7)), mv('consumed', 'shaft-blank', 'W-2', 15, 'pcs', 'WO-A2', at(3, 8)), mv('consumed', 'bolt', 'S-BOLT-1', 33, 'pcs', 'WO-A2', at(3, 8, 1)), mv('produced', 'shaft-assy', 'F-2', 15, 'pcs', 'WO-A2', at(3, 12))] },
    // Day 4, l2/m3: the rest of S-STEEL-2 goes to line 2: 22 kg into 11 blanks (W-3), the last one
    // reported on day 5 at 09:00, after m4 began consuming W-3.
    { topic: t('l2', 'm3'), movements: [mv('loaded', 'steel', 'S-STEEL-2', 20, 'kg', '', at(4, 7)), mv('consumed', 'steel', 'S-STEEL-2', 22, 'kg', 'WO-C3', at(4, 8)), mv('produced', 'shaft-blank', 'W-3', 10, 'pcs', 'WO-C3', at(4, 10))] },
    { topic: t('l2', 'm3'), movements: [mv('produced', 'shaft-blank', 'W-3', 1, 'pcs', 'WO-C3', at(5, 9))] },
    // Day 5, l2/m4: WO-A3 assembles F-3 from W-3 and bolts never loaded at m4 (a warning, still stored).
    { topic: t('l2', 'm4'), movements: [mv('loaded', 'shaft-blank', 'W-3', 10, 'pcs', '', at(5, 7)), mv('consumed', 'shaft-blank', 'W-3', 10, 'pcs', 'WO-A3', at(5, 8)), mv('consumed', 'bolt', 'S-BOLT-1', 20, 'pcs', 'WO-A3', at(5, 8, 1)), mv('produced', 'shaft-assy', 'F-3', 10, 'pcs', 'WO-A3', at(5, 12))] },
    // Day 6, bad data on l2: Q-1 is made from Q-2 at m4 and Q-2 from Q-1 at m3.
    { topic: t('l2', 'm4'), movements: [mv('loaded', 'shaft-blank', 'Q-2', 1, 'pcs', '', at(6, 1)), mv('consumed', 'shaft-blank', 'Q-2', 1, 'pcs', 'WO-Z1', at(6, 2)), mv('produced', 'shaft-assy', 'Q-1', 1, 'pcs', 'WO-Z1', at(6, 3))] },
    { topic: t('l2', 'm3'), movements: [mv('consumed', 'shaft-assy', 'Q-1', 1, 'pcs', 'WO-Z2', at(6, 4)), mv('produced', 'shaft-blank', 'Q-2', 1, 'pcs', 'WO-Z2', at(6, 5))] },
  ]
}

/** Inspections of the week: the bad supplier lot fails incoming hardness; the finished lots made from it fail the torque test. */
export function materialWeekInspections(day0: number): { topic: string; inspections: Record<string, unknown>[] }[] {
  const at = (d: number, h: number, m = 0) => day0 + d * DAY + h * HOUR + m * 60_000
  const insp = (lot: string, value: number, tsMs: number, defectCode = '') => ({ characteristic: 'hardness', value, lsl: 40, usl: 50, unit: 'HRC', lot, defectCode, tsMs })
  const torque = (lot: string, value: number, tsMs: number, defectCode = '') => ({ characteristic: 'torque', value, lsl: 10, usl: 12, unit: 'Nm', lot, defectCode, tsMs })
  return [
    { topic: 'iiot/v1/za/fa/l1/m1/quality', inspections: [insp('S-STEEL-1', 45, at(0, 6, 5)), insp('S-STEEL-2', 35, at(0, 6, 6), 'soft'), insp('S-STEEL-2', 36, at(0, 6, 7), 'soft')] },
    { topic: 'iiot/v1/za/fa/l1/m2/quality', inspections: [torque('F-1', 11, at(2, 13)), torque('F-1', 11.2, at(2, 13, 1)), torque('F-2', 9, at(3, 13), 'low-torque'), torque('F-2', 11, at(3, 13, 1))] },
    { topic: 'iiot/v1/za/fa/l2/m4/quality', inspections: [torque('F-3', 8.5, at(5, 13), 'low-torque')] },
  ]
}
