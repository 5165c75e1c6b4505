import { describe, expect, it } from 'vitest'
import { defaultOeeWindow, describeWindow, machineStartMs } from '../../src/domain/oee-window.js'
import type { StateInterval } from '../../src/domain/state-timeline.js'

const H = 3_600_000
const M = 60_000
const HCM = 'Asia/Ho_Chi_Minh'
// The demo's calendar (src/registry/demo-registry.ts): three 8-hour shifts, local time UTC+7.
const DEMO = [
  { name: 'morning', start: '06:00', end: '14:00' },
  { name: 'afternoon', start: '14:00', end: '22:00' },
  { name: 'night', start: '22:00', end: '06:00' },
]

describe('defaultOeeWindow: the window an OEE request without start or end covers', () => {
  it('is the current shift from its start to now: 10:30 local is 4.5 h into the morning shift', () => {
    const now = Date.UTC(2026, 10, 25, 3, 30) // 10:30 on 25 Nov in Ho Chi Minh City
    expect(defaultOeeWindow(DEMO, HCM, now)).toEqual({
      startMs: Date.UTC(2026, 10, 24, 23), // 06:00 local
      endMs: now,
      basis: 'current-shift',
      shift: { name: 'morning', date: '2026-11-25', startMs: Date.UTC(2026, 10, 24, 23), endMs: Date.UTC(2026, 10, 25, 7) },
    })
  })

  it('finds a night shift that began on the previous local day (05:30 local on 25 Nov)', () => {
    const now = Date.UTC(2026, 10, 24, 22, 30)
    const w = defaultOeeWindow(DEMO, HCM, now)
    expect(w.basis).toBe('current-shift')
    expect(w.shift).toEqual({ name: 'night', date: '2026-11-24', startMs: Date.UTC(2026, 10, 24, 15), endMs: Date.UTC(2026, 10, 24, 23) })
    expect([w.startMs, w.endMs]).toEqual([Date.UTC(2026, 10, 24, 15), now])
  })

  it('never answers an empty window: at 14:00 local exactly, the morning shift that just ended, whole', () => {
    const now = Date.UTC(2026, 10, 25, 7)
    const w = defaultOeeWindow(DEMO, HCM, now)
    expect([w.basis, w.shift?.name, w.startMs, w.endMs]).toEqual(['last-shift', 'morning', Date.UTC(2026, 10, 24, 23), now])
  })

  it('between shifts is the last shift that ended, whole', () => {
    const day = [{ name: 'day', start: '08:00', end: '17:00' }]
    // 19:00 local on 25 Nov: the day shift ended at 17:00 local (10:00 UTC).
    expect(defaultOeeWindow(day, HCM, Date.UTC(2026, 10, 25, 12))).toEqual({
      startMs: Date.UTC(2026, 10, 25, 1),
      endMs: Date.UTC(2026, 10, 25, 10),
      basis: 'last-shift',
      shift: { name: 'day', date: '2026-11-25', startMs: Date.UTC(2026, 10, 25, 1), endMs: Date.UTC(2026, 10, 25, 10) },
    })
    // 07:00 local on 25 Nov: before the day shift, so the one of 24 Nov.
    const early = defaultOeeWindow(day, HCM, Date.UTC(2026, 10, 25, 0))
    expect([early.basis, early.shift?.date, early.startMs, early.endMs]).toEqual(['last-shift', '2026-11-24', Date.UTC(2026, 10, 24, 1), Date.UTC(2026, 10, 24, 10)])
  })

  it('of overlapping shifts takes the one that started last', () => {
    const overlapping = [
      { name: 'a', start: '06:00', end: '14:00' },
      { name: 'b', start: '12:00', end: '20:00' },
    ]
    const w = defaultOeeWindow(overlapping, HCM, Date.UTC(2026, 10, 25, 6)) // 13:00 local
    expect([w.shift?.name, w.startMs]).toEqual(['b', Date.UTC(2026, 10, 25, 5)])
  })

  it('with an empty calendar (24/7) is the last 24 hours', () => {
    const now = Date.UTC(2026, 10, 25, 3, 30)
    expect(defaultOeeWindow([], HCM, now)).toEqual({ startMs: now - 24 * H, endMs: now, basis: 'last-24h', shift: null })
  })
})

describe('machineStartMs: where a machine\'s part of a default window starts', () => {
  const iv = (state: StateInterval['state'], startMs: number, endMs: number): StateInterval => ({ state, reason: '', alarms: [], startMs, endMs, durationMs: endMs - startMs })
  const T = Date.UTC(2026, 10, 25, 0)
  const window = { startMs: T, endMs: T + 4 * H }

  it('is the machine\'s first known state when it never reported before the window', () => {
    expect(machineStartMs(window, [iv('unknown', T, T + 90 * M), iv('idle', T + 90 * M, T + 2 * H), iv('running', T + 2 * H, T + 4 * H)])).toBe(T + 90 * M)
  })

  it('is the window\'s start for a machine known from the start: its silent time stays a loss', () => {
    expect(machineStartMs(window, [iv('offline', T, T + 3 * H), iv('running', T + 3 * H, T + 4 * H)])).toBe(T)
  })

  it('is the window\'s start for a machine that never reported: all unknown, never dropped', () => {
    expect(machineStartMs(window, [iv('unknown', T, T + 4 * H)])).toBe(T)
    expect(machineStartMs(window, [])).toBe(T)
  })
})

describe('describeWindow: the window in plain words', () => {
  const now = Date.UTC(2026, 10, 25, 3, 30)

  it('names the shift, its local times and the zone', () => {
    const w = defaultOeeWindow(DEMO, HCM, now)
    expect(describeWindow(w, DEMO, HCM, false)).toBe('the current shift, "morning" (06:00-14:00 Asia/Ho_Chi_Minh) of 2026-11-25, from its start to now')
    expect(describeWindow(w, DEMO, HCM, true)).toBe('the current shift, "morning" (06:00-14:00 Asia/Ho_Chi_Minh) of 2026-11-25, from its start to now; machines that had reported no state before it are measured from their first state report')
  })

  it('says when a window is the last shift, the last 24 hours, or the requested one', () => {
    const day = [{ name: 'day', start: '08:00', end: '17:00' }]
    expect(describeWindow(defaultOeeWindow(day, HCM, Date.UTC(2026, 10, 25, 12)), day, HCM, false)).toBe('the last shift, "day" (08:00-17:00 Asia/Ho_Chi_Minh) of 2026-11-25, whole: no shift is on now')
    expect(describeWindow(defaultOeeWindow([], HCM, now), [], HCM, false)).toBe('the last 24 hours: the factory has no shift calendar, so it is planned 24/7')
    expect(describeWindow({ startMs: now - H, endMs: now, basis: 'requested', shift: null }, DEMO, HCM, false)).toBe('the requested window')
  })
})
