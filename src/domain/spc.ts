/**
 * Statistical process control for one quality characteristic (docs/api.md,
 * "Quality"): an individuals and moving range (I-MR) chart, capability
 * indices and the Western Electric rules. Measurements are single values in
 * time order (subgroups of 1), as inspections arrive.
 *
 * Which sigma where:
 * - sigmaWithin = MR̄ / d2 (d2 = 1.128 for moving ranges of 2): short-term
 *   variation. It sets the control limits and zones, and Cp/Cpk, because a
 *   drifting process must not widen its own limits.
 * - sigmaOverall = sample standard deviation (n - 1): long-term variation,
 *   drift included. It gives Pp/Ppk; Pp/Ppk well below Cp/Cpk means drift.
 */

/** d2 for subgroups of 2 (the moving range of consecutive individuals). */
export const D2 = 1.128
/** D4 for subgroups of 2: the moving range chart's upper limit is D4 x MR̄ (its lower limit is 0). */
export const D4 = 3.267

export interface SpcPoint {
  readonly tsMs: number
  readonly value: number
}

/** Specification limits; any may be absent. `target` is echoed back, not used in the indices. */
export interface SpecLimits {
  readonly lsl?: number
  readonly usl?: number
  readonly target?: number
}

export type WesternElectricRule = 1 | 2 | 3 | 4

/** A point that completes a Western Electric pattern. */
export interface RuleViolation {
  readonly rule: WesternElectricRule
  /** Index into the points given. */
  readonly index: number
  readonly tsMs: number
  readonly value: number
  readonly side: 'above' | 'below'
}

export interface SpcResult {
  readonly n: number
  /** null when n = 0. */
  readonly mean: number | null
  /** Mean moving range |x_i - x_(i-1)|; null when n < 2. */
  readonly mrBar: number | null
  /** MR̄ / d2; null when n < 2. */
  readonly sigmaWithin: number | null
  /** Sample standard deviation (n - 1); null when n < 2. */
  readonly sigmaOverall: number | null
  /** The mean; null when n = 0. */
  readonly centerLine: number | null
  /** mean ± 3 sigmaWithin; null when n < 2. */
  readonly ucl: number | null
  readonly lcl: number | null
  /** D4 x MR̄, the moving range chart's upper limit; null when n < 2. */
  readonly mrUcl: number | null
  /** (USL - LSL) / 6 sigmaWithin; null without both limits or with sigma 0. */
  readonly cp: number | null
  /** min(USL - mean, mean - LSL) / 3 sigmaWithin, from the one side when only one limit is given; null without limits or with sigma 0. */
  readonly cpk: number | null
  /** As cp and cpk with sigmaOverall. */
  readonly pp: number | null
  readonly ppk: number | null
  readonly spec: SpecLimits
  /** Sorted by index, then rule. Empty when n < 2 or sigma is 0. */
  readonly violations: readonly RuleViolation[]
}

/** I-MR chart statistics, capability and Western Electric violations (limits from the data itself). */
export function spcIndividuals(points: readonly SpcPoint[], spec: SpecLimits = {}): SpcResult {
  const n = points.length
  const mean = n > 0 ? points.reduce((s, p) => s + p.value, 0) / n : null
  let mrBar: number | null = null
  let sigmaWithin: number | null = null
  let sigmaOverall: number | null = null
  if (n >= 2 && mean !== null) {
    let mrSum = 0
    let sq = 0
    for (let i = 0; i < n; i++) {
      const v = points[i]!.value
      if (i > 0) mrSum += Math.abs(v - points[i - 1]!.value)
      sq += (v - mean) ** 2
    }
    mrBar = mrSum / (n - 1)
    sigmaWithin = mrBar / D2
    sigmaOverall = Math.sqrt(sq / (n - 1))
  }
  const within = capability(mean, sigmaWithin, spec)
  const overall = capability(mean, sigmaOverall, spec)
  return {
    n,
    mean,
    mrBar,
    sigmaWithin,
    sigmaOverall,
    centerLine: mean,
    ucl: mean !== null && sigmaWithin !== null ? mean + 3 * sigmaWithin : null,
    lcl: mean !== null && sigmaWithin !== null ? mean - 3 * sigmaWithin : null,
    mrUcl: mrBar !== null ? D4 * mrBar : null,
    cp: within.c,
    cpk: within.ck,
    pp: overall.c,
    ppk: overall.ck,
    spec,
    violations: mean !== null && sigmaWithin !== null ? westernElectric(points, mean, sigmaWithin) : [],
  }
}

/**
 * Western Electric rules against a center line and sigma (also usable with
 * limits frozen from a baseline). "Beyond kσ" is strictly more than k sigma
 * from the center line; a point exactly on the center line is on neither side.
 * 1: one point beyond 3σ.
 * 2: 2 of 3 consecutive points beyond 2σ on the same side.
 * 3: 4 of 5 consecutive points beyond 1σ on the same side.
 * 4: 8 consecutive points on the same side of the center line.
 * A violation is reported at the point that completes the pattern, which must
 * itself be one of the qualifying points; a pattern that goes on (a 9th point
 * on the same side) is reported again at each further point, as Minitab does.
 * Each point is reported at most once per rule. Windows at the start of the
 * series may be shorter (the first two points beyond 2σ already make 2 of 3).
 * Returns [] when sigma is not positive.
 */
export function westernElectric(points: readonly SpcPoint[], centerLine: number, sigma: number): RuleViolation[] {
  if (!(sigma > 0)) return []
  const dev = points.map((p) => p.value - centerLine)
  const side = dev.map((d) => (d > 0 ? 1 : d < 0 ? -1 : 0))
  const beyond = (j: number, k: number, s: number): boolean => side[j] === s && Math.abs(dev[j]!) > k * sigma
  const countBeyond = (i: number, span: number, k: number, s: number): number => {
    let c = 0
    for (let j = Math.max(0, i - span + 1); j <= i; j++) if (beyond(j, k, s)) c++
    return c
  }
  const out: RuleViolation[] = []
  let run = 0
  for (let i = 0; i < points.length; i++) {
    const s = side[i]!
    run = s !== 0 && i > 0 && side[i - 1] === s ? run + 1 : s !== 0 ? 1 : 0
    if (s === 0) continue
    const hit = (rule: WesternElectricRule): void => {
      out.push({ rule, index: i, tsMs: points[i]!.tsMs, value: points[i]!.value, side: s > 0 ? 'above' : 'below' })
    }
    if (beyond(i, 3, s)) hit(1)
    if (beyond(i, 2, s) && countBeyond(i, 3, 2, s) >= 2) hit(2)
    if (beyond(i, 1, s) && countBeyond(i, 5, 1, s) >= 4) hit(3)
    if (run >= 8) hit(4)
  }
  return out
}

function capability(mean: number | null, sigma: number | null, spec: SpecLimits): { c: number | null; ck: number | null } {
  if (mean === null || sigma === null || !(sigma > 0)) return { c: null, ck: null }
  const { lsl, usl } = spec
  const c = lsl !== undefined && usl !== undefined ? (usl - lsl) / (6 * sigma) : null
  const sides: number[] = []
  if (usl !== undefined) sides.push(usl - mean)
  if (lsl !== undefined) sides.push(mean - lsl)
  return { c, ck: sides.length > 0 ? Math.min(...sides) / (3 * sigma) : null }
}
