import { describe, expect, it } from 'vitest'
import { computeOee, lineOee, machineOee } from '../../src/domain/oee.js'
import { sumCounts, sumCountsInWindows, timeInWindows } from '../../src/domain/oee-inputs.js'
import { clipWindow } from '../../src/domain/time-window.js'
import { shiftsInWindow } from '../../src/domain/shifts.js'
import { buildTimeline } from '../../src/domain/state-timeline.js'

const MIN = 60_000
const SHIFTS = [
  { name: 'day', start: '06:00', end: '14:00' },
  { name: 'night', start: '22:00', end: '06:00' },
]
// Night shift of 2024-05-01 in Ho Chi Minh City: 22:00-06:00 local = 15:00-23:00 UTC.
const S = Date.UTC(2024, 4, 1, 15)
const m = (minutes: number): number => S + minutes * MIN

/** Machine A on the night shift: the timeline runs 14:00-23:00 UTC (the caller clamped its end to now = 23:00). */
function machineA() {
  const window = { startMs: m(-60), endMs: m(480) }
  const intervals = buildTimeline({ state: 'running', reason: '', tsMs: m(-120) }, [
    { tsMs: m(-30), state: 'idle', reason: 'no-operator' }, // before the shift: not planned time
    { tsMs: m(0), state: 'running', reason: '' },
    { tsMs: m(120), state: 'planned_stop', reason: 'break' }, // 30 min
    { tsMs: m(150), state: 'running', reason: '' },
    { tsMs: m(300), state: 'fault', reason: 'E42' }, // 45 min
    { tsMs: m(345), state: 'running', reason: '' },
    { tsMs: m(420), state: 'setup', reason: 'changeover' }, // 15 min
    { tsMs: m(435), state: 'running', reason: '' },
  ], window)
  const night = shiftsInWindow(SHIFTS, 'Asia/Ho_Chi_Minh', window.startMs, window.endMs).find((o) => o.name === 'night')!
  const shiftWindow = clipWindow(night, window)!
  const points = [
    { tsMs: m(-10), good: 50, reject: 0 }, // before the shift
    { tsMs: m(60), good: 300, reject: 15 },
    { tsMs: m(200), good: 200, reject: 10 },
    { tsMs: m(470), good: 165, reject: 10 },
    { tsMs: m(480), good: 99, reject: 9 }, // at the shift end: belongs to the next window
  ]
  const counts = sumCounts(points, shiftWindow.startMs, shiftWindow.endMs)
  return { night, shiftWindow, intervals, counts, result: machineOee({ intervals, windows: [shiftWindow], idealCycleTimeS: 30, goodCount: counts.good, rejectCount: counts.reject }) }
}

describe('machineOee', () => {
  it('computes A, P, Q for a night shift crossing midnight with a planned stop, a fault and a setup', () => {
    const { night, counts, result } = machineA()
    expect(night).toMatchObject({ date: '2024-05-01', startMs: S, endMs: m(480) })
    expect(counts).toEqual({ good: 665, reject: 35, total: 700 })
    // Planned 480 min, planned stop 30 -> planned production 450.
    // Losses: fault 45 (unplanned downtime), setup 15 -> run 480 - 30 - 45 - 15 = 390 min.
    // A = 390 / 450 = 13/15; P = 30 s x 700 / (390 x 60 s) = 21000 / 23400 = 35/39;
    // Q = 665 / 700 = 0.95; OEE = 13/15 x 35/39 x 0.95 = 7/9 x 0.95 = 133/180 = 0.73889
    // (= ideal x good / planned production = 30 x 665 / 27000).
    expect(result).toMatchObject({
      plannedTimeMs: 480 * MIN, plannedStopMs: 30 * MIN, plannedProductionTimeMs: 450 * MIN, runTimeMs: 390 * MIN,
      unplannedDowntimeMs: 45 * MIN, idleMs: 0, setupMs: 15 * MIN, offlineMs: 0, unknownMs: 0,
      idealCycleTimeS: 30, idealOutputTimeMs: 21_000_000, totalCount: 700, goodCount: 665, rejectCount: 35, performanceAbove1: false,
    })
    expect(result.availability).toBeCloseTo(13 / 15, 12)
    expect(result.performance).toBeCloseTo(35 / 39, 12)
    expect(result.quality).toBeCloseTo(0.95, 12)
    expect(result.oee).toBeCloseTo(133 / 180, 12)
  })

  it('counts planned time without a known state as unknown, a loss', () => {
    // The timeline starts 60 min into the shift with nothing known before it.
    const intervals = buildTimeline(undefined, [{ tsMs: m(60), state: 'running', reason: '' }], { startMs: m(0), endMs: m(120) })
    const r = machineOee({ intervals, windows: [{ startMs: m(0), endMs: m(120) }], idealCycleTimeS: 60, goodCount: 60, rejectCount: 0 })
    expect(r).toMatchObject({ runTimeMs: 60 * MIN, unknownMs: 60 * MIN, availability: 0.5, performance: 1, quality: 1, oee: 0.5 })
  })
})

describe('computeOee edge cases', () => {
  const base = { idealCycleTimeS: 36, goodCount: 0, rejectCount: 0 }

  it('returns null ratios, never NaN, when nothing was planned', () => {
    const r = computeOee({ ...base, plannedTimeMs: 0, stateMs: {} })
    expect(r).toMatchObject({ availability: null, performance: null, quality: null, oee: null, performanceAbove1: false })
  })

  it('gives OEE 0 to a machine that faulted through its whole shift', () => {
    const r = computeOee({ ...base, plannedTimeMs: 60 * MIN, stateMs: { fault: 60 * MIN } })
    expect(r).toMatchObject({ availability: 0, performance: null, quality: null, oee: 0, unplannedDowntimeMs: 60 * MIN })
  })

  it('flags but does not cap a performance above 1', () => {
    const exact = computeOee({ ...base, goodCount: 100, plannedTimeMs: 3_600_000, stateMs: { running: 3_600_000 } })
    expect(exact).toMatchObject({ performance: 1, performanceAbove1: false })
    // 60 s x 100 = 6000 s of ideal output in 3600 s of running: the ideal cycle time is wrong.
    const fast = computeOee({ ...base, idealCycleTimeS: 60, goodCount: 100, plannedTimeMs: 3_600_000, stateMs: { running: 3_600_000 } })
    expect(fast.performance).toBeCloseTo(6000 / 3600, 12)
    expect(fast.performanceAbove1).toBe(true)
  })

  it('counts planned time the given states do not cover as unknown', () => {
    const r = computeOee({ ...base, goodCount: 100, plannedTimeMs: 100 * MIN, stateMs: { running: 60 * MIN } })
    expect(r).toMatchObject({ runTimeMs: 60 * MIN, unknownMs: 40 * MIN, availability: 0.6, performance: 1 })
  })

  it('refuses state time beyond the planned time', () => {
    expect(() => computeOee({ ...base, plannedTimeMs: 10, stateMs: { running: 11 } })).toThrow(/exceeds planned time/)
  })
})

describe('lineOee', () => {
  it('sums the machines inputs and recomputes A, P, Q (not the mean of the OEEs)', () => {
    const a = { machine: 'm-a', ...machineA().result }
    // Machine B: 450 min running, 30 min planned stop, ideal 20 s, 1200 made, 1188 good:
    // A = 1, P = 20 x 1200 / 27000 = 8/9, Q = 0.99, OEE = 0.88.
    const b = { machine: 'm-b', ...computeOee({ plannedTimeMs: 480 * MIN, stateMs: { running: 450 * MIN, planned_stop: 30 * MIN }, idealCycleTimeS: 20, goodCount: 1188, rejectCount: 12 }) }
    expect(b.oee).toBeCloseTo(0.88, 12)
    const line = lineOee([a, b])
    // Sums: planned production 900 min, run 840 min, ideal output 21000 + 24000 = 45000 s, total 1900, good 1853.
    // A = 840/900 = 14/15; P = 45000 / 50400 = 25/28; Q = 1853/1900; OEE = 5/6 x 1853/1900 = 0.81272
    // (the mean of the two OEEs would be 0.80944).
    expect(line).toMatchObject({ plannedTimeMs: 960 * MIN, plannedStopMs: 60 * MIN, plannedProductionTimeMs: 900 * MIN, runTimeMs: 840 * MIN, unplannedDowntimeMs: 45 * MIN, setupMs: 15 * MIN, idealOutputTimeMs: 45_000_000, totalCount: 1900, goodCount: 1853, rejectCount: 47 })
    expect(line.availability).toBeCloseTo(14 / 15, 12)
    expect(line.performance).toBeCloseTo(25 / 28, 12)
    expect(line.quality).toBeCloseTo(1853 / 1900, 12)
    expect(line.oee).toBeCloseTo((5 / 6) * (1853 / 1900), 12)
    expect(line.oee).not.toBeCloseTo((a.oee! + b.oee!) / 2, 3)
    expect(line.idealCycleTimeS).toBeCloseTo(45000 / 1900, 12)
    expect(line.machines.map((x) => x.machine)).toEqual(['m-a', 'm-b'])
  })

  it('has null ratios for an empty line', () => {
    expect(lineOee([])).toMatchObject({ availability: null, performance: null, quality: null, oee: null, idealCycleTimeS: null, machines: [] })
  })
})

describe('OEE inputs', () => {
  it('cuts state time with overlapping windows without counting twice', () => {
    const intervals = buildTimeline({ state: 'running', reason: '', tsMs: m(-1) }, [{ tsMs: m(30), state: 'fault', reason: 'E' }, { tsMs: m(50), state: 'running', reason: '' }], { startMs: m(0), endMs: m(100) })
    const d = timeInWindows(intervals, [{ startMs: m(20), endMs: m(40) }, { startMs: m(35), endMs: m(60) }, { startMs: m(90), endMs: m(200) }])
    // Union 20-60 and 90-100 (the timeline ends at 100): running 20-30, 50-60, 90-100; fault 30-50.
    expect(d.byStateMs.running).toBe(30 * MIN)
    expect(d.byStateMs.fault).toBe(20 * MIN)
    expect(d.totalMs).toBe(50 * MIN)
  })

  it('sums counts in half-open windows, once per point', () => {
    const points = [{ tsMs: 10, good: 1, reject: 0 }, { tsMs: 20, good: 2, reject: 1 }, { tsMs: 30, good: 4, reject: 0 }]
    expect(sumCounts(points, 10, 30)).toEqual({ good: 3, reject: 1, total: 4 })
    expect(sumCountsInWindows(points, [{ startMs: 0, endMs: 25 }, { startMs: 15, endMs: 31 }])).toEqual({ good: 7, reject: 1, total: 8 })
  })
})
