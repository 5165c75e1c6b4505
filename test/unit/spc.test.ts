import { describe, expect, it } from 'vitest'
import { spcIndividuals, westernElectric } from '../../src/domain/spc.js'

const T0 = Date.UTC(2024, 4, 1)
const series = (values: readonly number[]) => values.map((value, i) => ({ tsMs: T0 + i * 1000, value }))
const brief = (v: readonly { rule: number; index: number; side: string }[]) => v.map((x) => [x.rule, x.index, x.side])

describe('spcIndividuals', () => {
  it('computes the I-MR chart, Cp/Cpk (sigma within) and Pp/Ppk (sigma overall) by hand', () => {
    // 20 points alternating 9, 11, then an outlier 20.
    const values = [...Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 9 : 11)), 20]
    const r = spcIndividuals(series(values), { lsl: 4, usl: 16, target: 10 })
    // mean = (10 x 9 + 10 x 11 + 20) / 21 = 220/21 = 10.47619
    // MR̄ = (19 x 2 + |20 - 11|) / 20 = 47/20 = 2.35; sigmaWithin = 2.35 / 1.128 = 25/12 = 2.08333
    // UCL/LCL = 220/21 ± 6.25; MR UCL = 3.267 x 2.35 = 7.67745
    // Cp = 12 / (6 x 25/12) = 0.96; Cpk = min(16 - 220/21, 220/21 - 4) / 6.25 = (116/21) / 6.25 = 0.88381
    // sigmaOverall = sqrt((2420 - 48400/21) / 20) = sqrt(121/21) = 11/sqrt(21) = 2.40040
    // Pp = 12 / (6 x 11/sqrt(21)) = 2 sqrt(21) / 11 = 0.83320; Ppk = (116/21) / (3 x 11/sqrt(21)) = 0.76707
    expect(r.n).toBe(21)
    expect(r.mean).toBeCloseTo(220 / 21, 12)
    expect(r.centerLine).toBe(r.mean)
    expect(r.mrBar).toBeCloseTo(2.35, 12)
    expect(r.sigmaWithin).toBeCloseTo(25 / 12, 12)
    expect(r.ucl).toBeCloseTo(220 / 21 + 6.25, 12)
    expect(r.lcl).toBeCloseTo(220 / 21 - 6.25, 12)
    expect(r.mrUcl).toBeCloseTo(7.67745, 12)
    expect(r.cp).toBeCloseTo(0.96, 12)
    expect(r.cpk).toBeCloseTo(116 / 21 / 6.25, 12)
    expect(r.sigmaOverall).toBeCloseTo(11 / Math.sqrt(21), 12)
    expect(r.pp).toBeCloseTo((2 * Math.sqrt(21)) / 11, 12)
    expect(r.ppk).toBeCloseTo(116 / 21 / (33 / Math.sqrt(21)), 12)
    expect(r.spec).toEqual({ lsl: 4, usl: 16, target: 10 })
    // 9 and 11 sit within 1 sigma of the mean and alternate sides: only the outlier breaks a rule.
    expect(r.violations).toEqual([{ rule: 1, index: 20, tsMs: T0 + 20_000, value: 20, side: 'above' }])
  })

  it('takes Cpk from the one side given and leaves Cp null', () => {
    // mean 2, MR̄ 1, sigmaWithin = 1/1.128; sigmaOverall = 1.
    const r = spcIndividuals(series([1, 2, 3]), { usl: 5 })
    expect(r.cp).toBeNull()
    expect(r.cpk).toBeCloseTo(1.128, 12) // (5 - 2) / (3 / 1.128)
    expect(r.pp).toBeNull()
    expect(r.ppk).toBeCloseTo(1, 12)
    expect(spcIndividuals(series([1, 2, 3]), { lsl: 1.5 }).cpk).toBeCloseTo((0.5 * 1.128) / 3, 12)
    expect(spcIndividuals(series([1, 2, 3])).cpk).toBeNull()
  })

  it('returns nulls and no violations below two points, and for a constant series', () => {
    expect(spcIndividuals([], { lsl: 0, usl: 1 })).toMatchObject({ n: 0, mean: null, sigmaWithin: null, sigmaOverall: null, ucl: null, cp: null, cpk: null, violations: [] })
    expect(spcIndividuals(series([5]), { lsl: 0, usl: 10 })).toMatchObject({ n: 1, mean: 5, centerLine: 5, mrBar: null, sigmaWithin: null, ucl: null, lcl: null, cp: null, cpk: null, violations: [] })
    expect(spcIndividuals(series(Array(10).fill(5)), { lsl: 0, usl: 10 })).toMatchObject({ sigmaWithin: 0, ucl: 5, cp: null, cpk: null, pp: null, violations: [] })
  })
})

describe('westernElectric', () => {
  it('fires each of rules 1-4 exactly once on a designed series (center 0, sigma 1)', () => {
    const values = [
      0.5, -0.5, 3.5, // 2: rule 1 (its neighbours are within 1 sigma on the other side)
      -0.5, 0.5, -2.5, 0.5, -2.5, // 7: rule 2, 2 of 3 below -2 sigma (5 and 7)
      0.5, -0.5, 1.5, 1.5, 0.5, 1.5, 1.5, // 14: rule 3, 4 of 5 above 1 sigma (10, 11, 13, 14); run above is 5 long
      -0.5, -0.25, -0.75, -0.5, -0.25, -0.75, -0.5, -0.25, // 22: rule 4, eighth point below (15-22)
      0.5,
    ]
    const v = westernElectric(series(values), 0, 1)
    expect(brief(v)).toEqual([[1, 2, 'above'], [2, 7, 'below'], [3, 14, 'above'], [4, 22, 'below']])
    expect(v[0]).toEqual({ rule: 1, index: 2, tsMs: T0 + 2000, value: 3.5, side: 'above' })
  })

  it('counts a rule-1 point towards rule 2 and reports a continuing run at each further point', () => {
    expect(brief(westernElectric(series([0.5, 2.5, 3.5, -0.5]), 0, 1))).toEqual([[1, 2, 'above'], [2, 2, 'above']])
    expect(brief(westernElectric(series(Array(9).fill(-0.5)), 0, 1))).toEqual([[4, 7, 'below'], [4, 8, 'below']])
  })

  it('lets a point on the center line break a run, and needs the completing point to qualify', () => {
    expect(westernElectric(series([...Array(7).fill(0.5), 0, 0.5]), 0, 1)).toEqual([])
    // Two points beyond 2 sigma then a quiet one: reported once, at the second.
    expect(brief(westernElectric(series([2.5, 2.5, 0.5, -0.5]), 0, 1))).toEqual([[2, 1, 'above']])
    expect(westernElectric(series([4, 4]), 0, 0)).toEqual([])
  })
})
