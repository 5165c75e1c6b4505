import { describe, expect, it } from 'vitest'
import { buildTimeline, downtimePareto, timeInState } from '../../src/domain/state-timeline.js'
import type { StateChangePoint } from '../../src/domain/state-timeline.js'

const T0 = Date.UTC(2024, 4, 1, 6, 0)
/** Minutes after T0 as epoch ms. */
const m = (minutes: number): number => T0 + minutes * 60_000
const MIN = 60_000

describe('buildTimeline', () => {
  it('starts mid-stop from the state in force before the window, merges repeats, lets the later duplicate win', () => {
    const changes: StateChangePoint[] = [
      { tsMs: m(10), state: 'running', reason: '' },
      { tsMs: m(40), state: 'running', reason: '' }, // periodic re-publish: merges
      { tsMs: m(50), state: 'fault', reason: 'E42', alarms: ['A1'] },
      { tsMs: m(50), state: 'fault', reason: 'E43', alarms: ['A2'] }, // same ts: this one wins
      { tsMs: m(70), state: 'fault', reason: 'E43', alarms: ['A3', 'A2'] }, // merges, alarms united
      { tsMs: m(80), state: 'running', reason: '' },
      { tsMs: m(120), state: 'idle', reason: 'x' }, // at the window end: ignored
    ]
    const t = buildTimeline({ state: 'unplanned_stop', reason: 'jam', tsMs: m(-30) }, changes, { startMs: m(0), endMs: m(120) })
    expect(t).toEqual([
      { state: 'unplanned_stop', reason: 'jam', alarms: [], startMs: m(0), endMs: m(10), durationMs: 10 * MIN },
      { state: 'running', reason: '', alarms: [], startMs: m(10), endMs: m(50), durationMs: 40 * MIN },
      { state: 'fault', reason: 'E43', alarms: ['A2', 'A3'], startMs: m(50), endMs: m(80), durationMs: 30 * MIN },
      { state: 'running', reason: '', alarms: [], startMs: m(80), endMs: m(120), durationMs: 40 * MIN },
    ])
  })

  it('keeps intervals with the same state but another reason apart', () => {
    const t = buildTimeline({ state: 'fault', reason: 'E1', tsMs: m(-1) }, [{ tsMs: m(5), state: 'fault', reason: 'E2' }], { startMs: m(0), endMs: m(10) })
    expect(t.map((i) => [i.reason, i.durationMs])).toEqual([['E1', 5 * MIN], ['E2', 5 * MIN]])
  })

  it('fills the time before the first change with unknown when nothing is known before the window', () => {
    const t = buildTimeline(undefined, [{ tsMs: m(15), state: 'running', reason: '' }], { startMs: m(0), endMs: m(60) })
    expect(t).toEqual([
      { state: 'unknown', reason: '', alarms: [], startMs: m(0), endMs: m(15), durationMs: 15 * MIN },
      { state: 'running', reason: '', alarms: [], startMs: m(15), endMs: m(60), durationMs: 45 * MIN },
    ])
    expect(buildTimeline(undefined, [], { startMs: m(0), endMs: m(1) })).toEqual([
      { state: 'unknown', reason: '', alarms: [], startMs: m(0), endMs: m(1), durationMs: MIN },
    ])
  })

  it('lets a change at or before the window start replace the prior state, exact to the millisecond', () => {
    const atStart = buildTimeline({ state: 'idle', reason: '', tsMs: m(-5) }, [{ tsMs: m(0), state: 'running', reason: '' }], { startMs: m(0), endMs: m(1) })
    expect(atStart.map((i) => i.state)).toEqual(['running'])
    const before = buildTimeline({ state: 'idle', reason: '', tsMs: m(-60) }, [{ tsMs: m(-10), state: 'setup', reason: 'c1' }, { tsMs: m(0) + 1, state: 'running', reason: '' }], { startMs: m(0), endMs: m(1) })
    expect(before.map((i) => [i.state, i.durationMs])).toEqual([['setup', 1], ['running', MIN - 1]])
    // A change point with the prior state's own timestamp is newer information: it wins.
    const sameTs = buildTimeline({ state: 'idle', reason: '', tsMs: m(-5) }, [{ tsMs: m(-5), state: 'setup', reason: 'c1' }], { startMs: m(0), endMs: m(1) })
    expect(sameTs.map((i) => i.state)).toEqual(['setup'])
  })

  it('sorts unordered change points and returns nothing for an empty window', () => {
    const t = buildTimeline(undefined, [{ tsMs: m(20), state: 'idle', reason: '' }, { tsMs: m(10), state: 'running', reason: '' }], { startMs: m(0), endMs: m(30) })
    expect(t.map((i) => [i.state, i.startMs])).toEqual([['unknown', m(0)], ['running', m(10)], ['idle', m(20)]])
    expect(buildTimeline(undefined, [], { startMs: m(5), endMs: m(5) })).toEqual([])
  })
})

describe('timeInState', () => {
  it('adds up ms per state and the total', () => {
    const t = buildTimeline({ state: 'unplanned_stop', reason: 'jam', tsMs: m(-30) }, [
      { tsMs: m(10), state: 'running', reason: '' },
      { tsMs: m(50), state: 'fault', reason: 'E43' },
      { tsMs: m(80), state: 'running', reason: '' },
    ], { startMs: m(0), endMs: m(120) })
    const d = timeInState(t)
    expect(d.totalMs).toBe(120 * MIN)
    expect(d.byStateMs).toEqual({ running: 80 * MIN, idle: 0, setup: 0, planned_stop: 0, unplanned_stop: 10 * MIN, fault: 30 * MIN, offline: 0, unknown: 0 })
  })
})

describe('downtimePareto', () => {
  it('groups down time by reason, sorted by duration, with shares and the planned/unplanned split', () => {
    const t = buildTimeline({ state: 'running', reason: '', tsMs: m(-10) }, [
      { tsMs: m(10), state: 'fault', reason: 'E1' }, // 20 min
      { tsMs: m(30), state: 'running', reason: '' },
      { tsMs: m(60), state: 'planned_stop', reason: 'break' }, // 30 min, planned
      { tsMs: m(90), state: 'running', reason: '' },
      { tsMs: m(100), state: 'unplanned_stop', reason: '' }, // 15 min, unspecified
      { tsMs: m(115), state: 'idle', reason: 'no-material' }, // 10 min, not down
      { tsMs: m(125), state: 'fault', reason: 'E1' }, // 25 min
      { tsMs: m(150), state: 'setup', reason: 'changeover' }, // 20 min, not down
      { tsMs: m(170), state: 'running', reason: '' },
      { tsMs: m(200), state: 'unplanned_stop', reason: 'E1' }, // 5 min
      { tsMs: m(205), state: 'offline', reason: '' }, // 35 min, not down
    ], { startMs: m(0), endMs: m(240) })
    const p = downtimePareto(t)
    // Down: E1 20 + 25 + 5 = 50, break 30, unspecified 15; total 95 min.
    expect(p.reasons).toEqual([
      { reason: 'E1', count: 3, durationMs: 50 * MIN, plannedMs: 0, unplannedMs: 50 * MIN, share: 50 / 95, cumulativeShare: 50 / 95 },
      { reason: 'break', count: 1, durationMs: 30 * MIN, plannedMs: 30 * MIN, unplannedMs: 0, share: 30 / 95, cumulativeShare: 80 / 95 },
      { reason: 'unspecified', count: 1, durationMs: 15 * MIN, plannedMs: 0, unplannedMs: 15 * MIN, share: 15 / 95, cumulativeShare: 1 },
    ])
    expect(p).toMatchObject({ totalDownMs: 95 * MIN, plannedMs: 30 * MIN, unplannedMs: 65 * MIN, idleMs: 10 * MIN, setupMs: 20 * MIN, offlineMs: 35 * MIN, unknownMs: 0 })
  })

  it('breaks duration ties by count, then by reason', () => {
    const t = buildTimeline({ state: 'running', reason: '', tsMs: m(-1) }, [
      { tsMs: m(0), state: 'fault', reason: 'b' },
      { tsMs: m(10), state: 'fault', reason: 'a' },
      { tsMs: m(20), state: 'fault', reason: 'c' },
      { tsMs: m(25), state: 'running', reason: '' },
      { tsMs: m(30), state: 'fault', reason: 'c' },
      { tsMs: m(35), state: 'running', reason: '' },
    ], { startMs: m(0), endMs: m(40) })
    expect(downtimePareto(t).reasons.map((r) => [r.reason, r.count, r.durationMs])).toEqual([['c', 2, 10 * MIN], ['a', 1, 10 * MIN], ['b', 1, 10 * MIN]])
  })

  it('is empty without downtime', () => {
    const p = downtimePareto(buildTimeline(undefined, [{ tsMs: m(1), state: 'idle', reason: '' }], { startMs: m(0), endMs: m(2) }))
    expect(p.reasons).toEqual([])
    expect(p).toMatchObject({ totalDownMs: 0, idleMs: MIN, unknownMs: MIN })
  })
})
