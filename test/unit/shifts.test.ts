import { describe, expect, it } from 'vitest'
import { localToUtc, offsetMs, plannedTimeMs, plannedWindows, shiftsInWindow } from '../../src/domain/shifts.js'

const H = 3_600_000
const HCM = 'Asia/Ho_Chi_Minh'
const BERLIN = 'Europe/Berlin'

describe('shiftsInWindow in Asia/Ho_Chi_Minh (UTC+7)', () => {
  const shifts = [
    { name: 'day', start: '08:00', end: '16:30' },
    { name: 'night', start: '22:00', end: '06:00' },
  ]
  // The local day 2024-05-01: 00:00 local = 2024-04-30 17:00 UTC.
  const startMs = Date.UTC(2024, 3, 30, 17)
  const endMs = Date.UTC(2024, 4, 1, 17)

  it('finds the night shift of the previous local day, and gives full bounds (22:00-06:00 local = 15:00-23:00 UTC)', () => {
    expect(shiftsInWindow(shifts, HCM, startMs, endMs)).toEqual([
      { name: 'night', date: '2024-04-30', startMs: Date.UTC(2024, 3, 30, 15), endMs: Date.UTC(2024, 3, 30, 23) },
      { name: 'day', date: '2024-05-01', startMs: Date.UTC(2024, 4, 1, 1), endMs: Date.UTC(2024, 4, 1, 9, 30) },
      { name: 'night', date: '2024-05-01', startMs: Date.UTC(2024, 4, 1, 15), endMs: Date.UTC(2024, 4, 1, 23) },
    ])
  })

  it('defaults to Asia/Ho_Chi_Minh and treats the window end as exclusive', () => {
    // Ending at 15:00 UTC: the night shift starting exactly then is out.
    expect(shiftsInWindow(shifts, undefined, startMs, Date.UTC(2024, 4, 1, 15)).map((o) => `${o.name} ${o.date}`)).toEqual(['night 2024-04-30', 'day 2024-05-01'])
  })

  it('clips planned time to the window: 6 h + 8.5 h + 2 h', () => {
    expect(plannedWindows(shifts, HCM, startMs, endMs)).toEqual([
      { startMs, endMs: Date.UTC(2024, 3, 30, 23) },
      { startMs: Date.UTC(2024, 4, 1, 1), endMs: Date.UTC(2024, 4, 1, 9, 30) },
      { startMs: Date.UTC(2024, 4, 1, 15), endMs },
    ])
    expect(plannedTimeMs(shifts, HCM, startMs, endMs)).toBe(16.5 * H)
  })

  it('does not count overlapping shifts twice', () => {
    const overlapping = [{ name: 'a', start: '06:00', end: '14:00' }, { name: 'b', start: '12:00', end: '20:00' }]
    expect(plannedTimeMs(overlapping, HCM, startMs, endMs)).toBe(14 * H)
  })

  it('treats an empty calendar as 24/7 and an equal start and end as a 24 h shift', () => {
    expect(plannedTimeMs([], HCM, startMs, endMs)).toBe(24 * H)
    expect(plannedTimeMs([{ name: 'all-day', start: '06:00', end: '06:00' }], HCM, startMs, endMs)).toBe(24 * H)
    expect(plannedTimeMs([], HCM, endMs, startMs)).toBe(0)
  })

  it('rejects a malformed shift time', () => {
    expect(() => shiftsInWindow([{ name: 'x', start: '6:00', end: '14:00' }], HCM, startMs, endMs)).toThrow(/"6:00" is not HH:MM/)
  })
})

describe('shifts in Europe/Berlin across DST', () => {
  const shifts = [
    { name: 'early', start: '06:00', end: '14:00' },
    { name: 'night', start: '22:00', end: '06:00' },
  ]

  it('gives the night shift into summer time 7 h (22:00 CET = 21:00Z to 06:00 CEST = 04:00Z)', () => {
    const startMs = Date.UTC(2024, 2, 30, 12)
    const endMs = Date.UTC(2024, 2, 31, 12)
    expect(shiftsInWindow(shifts, BERLIN, startMs, endMs)).toEqual([
      { name: 'early', date: '2024-03-30', startMs: Date.UTC(2024, 2, 30, 5), endMs: Date.UTC(2024, 2, 30, 13) },
      { name: 'night', date: '2024-03-30', startMs: Date.UTC(2024, 2, 30, 21), endMs: Date.UTC(2024, 2, 31, 4) },
      { name: 'early', date: '2024-03-31', startMs: Date.UTC(2024, 2, 31, 4), endMs: Date.UTC(2024, 2, 31, 12) },
    ])
    // 1 h of the first early shift (12:00-13:00Z), 7 h night, 8 h early.
    expect(plannedTimeMs(shifts, BERLIN, startMs, endMs)).toBe(16 * H)
  })

  it('gives the night shift into winter time 9 h (22:00 CEST = 20:00Z to 06:00 CET = 05:00Z)', () => {
    const night = shiftsInWindow(shifts, BERLIN, Date.UTC(2024, 9, 27, 0), Date.UTC(2024, 9, 27, 1)).filter((o) => o.name === 'night')
    expect(night).toEqual([{ name: 'night', date: '2024-10-26', startMs: Date.UTC(2024, 9, 26, 20), endMs: Date.UTC(2024, 9, 27, 5) }])
  })

  it('moves a local time in the spring gap forward and takes the earlier of a repeated autumn time', () => {
    const wall = (y: number, mo: number, d: number, h: number, mi: number): number => Date.UTC(y, mo, d, h, mi)
    // 02:30 does not exist on 2024-03-31: it becomes 03:30 CEST = 01:30Z.
    expect(localToUtc(wall(2024, 2, 31, 2, 30), BERLIN)).toBe(Date.UTC(2024, 2, 31, 1, 30))
    // 02:30 happens twice on 2024-10-27: first in CEST (00:30Z).
    expect(localToUtc(wall(2024, 9, 27, 2, 30), BERLIN)).toBe(Date.UTC(2024, 9, 27, 0, 30))
    expect(localToUtc(wall(2024, 9, 27, 3, 0), BERLIN)).toBe(Date.UTC(2024, 9, 27, 2, 0))
    expect(offsetMs(Date.UTC(2024, 0, 1), BERLIN)).toBe(1 * H)
    expect(offsetMs(Date.UTC(2024, 6, 1), BERLIN)).toBe(2 * H)
    expect(offsetMs(Date.UTC(2024, 6, 1), HCM)).toBe(7 * H)
    // A shift 02:30-04:00 lasts 30 min on the spring day and 2.5 h on the autumn day.
    const odd = [{ name: 'odd', start: '02:30', end: '04:00' }]
    expect(shiftsInWindow(odd, BERLIN, Date.UTC(2024, 2, 30, 23), Date.UTC(2024, 2, 31, 3)).map((o) => o.endMs - o.startMs)).toEqual([0.5 * H])
    expect(shiftsInWindow(odd, BERLIN, Date.UTC(2024, 9, 26, 23), Date.UTC(2024, 9, 27, 3)).map((o) => o.endMs - o.startMs)).toEqual([2.5 * H])
  })
})
