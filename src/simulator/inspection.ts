import { VERDICT_UNSPECIFIED, type InspectionMsg } from './messages.js'
import type { Prng } from './prng.js'

export const BORE = { characteristic: 'bore.diameter', lsl: 24.95, usl: 25.05, target: 25.0, unit: 'mm' } as const
export const ROUGHNESS = { characteristic: 'surface.roughness', usl: 1.6, target: 0.8, unit: 'um' } as const

/** How far the bore grows at full tool wear, mm: just short of the upper limit, so noise crosses it. */
const BORE_WEAR_MM = 0.048

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/**
 * Measures one part. The verdict is left unspecified so the server derives
 * pass/fail from the limits; the defect code is what the gauge would report.
 */
export function inspectPart(prng: Prng, boreBias: number, wear: number, lot: string, tsMs: number): InspectionMsg[] {
  const bore = round(BORE.target + boreBias + BORE_WEAR_MM * wear + prng.normal(0, 0.005), 4)
  const ra = round(0.6 + 0.9 * wear + Math.abs(prng.normal(0, 0.08)), 3)
  const boreDefect = bore > BORE.usl ? 'oversize' : bore < BORE.lsl ? 'undersize' : ''
  return [
    { ...BORE, value: bore, verdict: VERDICT_UNSPECIFIED, defectCode: boreDefect, lot, tsMs },
    { ...ROUGHNESS, value: ra, verdict: VERDICT_UNSPECIFIED, defectCode: ra > ROUGHNESS.usl ? 'surface-rough' : '', lot, tsMs },
  ]
}
