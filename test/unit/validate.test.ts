import { describe, expect, it } from 'vitest'
import { createValidator } from '../../src/pipeline/validate.js'
import { encode, types } from '../helpers/gateway.js'
import type { Kind } from '../../src/domain/topic.js'

const NOW = 1_800_000_000_000
const limits = { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, maxBatch: 3, maxStringLength: 16 }
const validate = createValidator(limits, () => NOW)
const run = (kind: Kind, body: Record<string, unknown>) => validate(kind, types[kind].decode(encode(kind, body)))

describe('semantic validation', () => {
  it('accepts a good telemetry batch and fills missing timestamps from the send time', () => {
    const r = run('telemetry', { seq: 4, sentTsMs: NOW - 10, samples: [{ signal: 'a', doubleValue: 1.5, tsMs: NOW - 20 }, { signal: 'b', boolValue: false }] })
    expect(r).toEqual({
      ok: true,
      message: {
        kind: 'telemetry',
        seq: 4,
        sentTsMs: NOW - 10,
        samples: [
          { signal: 'a', value: 1.5, unit: '', tsMs: NOW - 20, quality: 'good' },
          { signal: 'b', value: false, unit: '', tsMs: NOW - 10, quality: 'good' },
        ],
      },
    })
  })

  it('uses the receive time when the gateway sent no time at all', () => {
    const r = run('state', { seq: 1, changes: [{ state: 2 }] })
    expect(r.ok && r.message.kind === 'state' && r.message.changes[0]!.tsMs).toBe(NOW)
  })

  it.each([
    ['non_finite_number', 'telemetry', { samples: [{ signal: 'a', doubleValue: Infinity, tsMs: NOW }] }],
    ['missing_value', 'telemetry', { samples: [{ signal: 'a', tsMs: NOW }] }],
    ['invalid_name', 'telemetry', { samples: [{ signal: 'bad name', doubleValue: 1, tsMs: NOW }] }],
    ['string_too_long', 'telemetry', { samples: [{ signal: 'a', stringValue: 'x'.repeat(17), tsMs: NOW }] }],
    ['string_too_long', 'telemetry', { samples: [{ signal: 'a', doubleValue: 1, unit: 'u'.repeat(17), tsMs: NOW }] }],
    ['invalid_enum', 'telemetry', { samples: [{ signal: 'a', doubleValue: 1, quality: 9, tsMs: NOW }] }],
    ['empty_batch', 'telemetry', { samples: [] }],
    ['batch_too_large', 'telemetry', { samples: [1, 2, 3, 4].map((i) => ({ signal: `s${i}`, doubleValue: i, tsMs: NOW })) }],
    ['future_timestamp', 'telemetry', { samples: [{ signal: 'a', doubleValue: 1, tsMs: NOW + 60_001 }] }],
    ['stale_timestamp', 'telemetry', { samples: [{ signal: 'a', doubleValue: 1, tsMs: NOW - 86_400_001 }] }],
    // Beyond the range of a JavaScript Date (±8.64e15 ms): a rejection, not a throw (was internal_error).
    ['future_timestamp', 'telemetry', { samples: [{ signal: 'a', doubleValue: 1, tsMs: 8_700_000_000_000_000 }] }],
    ['invalid_enum', 'state', { changes: [{ state: 0, tsMs: NOW }] }],
    ['invalid_enum', 'connectivity', { reports: [{ access: 42, tsMs: NOW }] }],
    ['non_finite_number', 'quality', { inspections: [{ characteristic: 'd', value: NaN, tsMs: NOW }] }],
    ['non_finite_number', 'connectivity', { reports: [{ access: 1, rsrpDbm: NaN, tsMs: NOW }] }],
  ] as const)('rejects with %s (%s)', (reason, kind, body) => {
    const r = run(kind, { seq: 1, sentTsMs: NOW, ...body })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.failure.reason).toBe(reason)
      expect(r.failure.message.length).toBeGreaterThan(5)
    }
  })

  // However far off a timestamp is, it is too new or too old, not a malformed payload (2^53 and up, and
  // below 0, were invalid_payload while a year ahead was future_timestamp). int64 fields past 2^53 read as
  // the nearest double: protobufjs' Long support is off (proto-schema.ts).
  it.each([
    ['future_timestamp', 'telemetry', 2 ** 53, /timestamp about 9007199254740992 ms since 1970 \(around the year 287,397\) is more than 60000 ms in the future/],
    ['future_timestamp', 'telemetry', 2 ** 60, /timestamp about 1152921504606846976 ms since 1970 \(around the year 36,536,598\) is more than/],
    ['future_timestamp', 'state', Number.MAX_SAFE_INTEGER, /timestamp 9007199254740991 ms since 1970 \(around the year 287,397\)/],
    ['future_timestamp', 'material', 2 ** 62, /about 4611686018427387904 ms since 1970/],
    ['stale_timestamp', 'production', 1, /1970-01-01T00:00:00\.001Z is older than/],
    ['stale_timestamp', 'quality', -1, /1969-12-31T23:59:59\.999Z is older than/],
    ['stale_timestamp', 'connectivity', -(2 ** 60), /timestamp about -1152921504606846976 ms since 1970 \(around the year -36,532,658\) is older than/],
  ] as const)('rejects with %s a %s item stamped %d ms, saying when that is', (reason, kind, tsMs, message) => {
    const item = {
      telemetry: { samples: [{ signal: 'a', doubleValue: 1, tsMs }] },
      state: { changes: [{ state: 1, tsMs }] },
      production: { reports: [{ mode: 1, good: 1, tsMs }] },
      quality: { inspections: [{ characteristic: 'd', value: 1, tsMs }] },
      connectivity: { reports: [{ access: 1, tsMs }] },
      material: { movements: [{ movement: 1, material: 'steel', lot: 'l-1', quantity: 1, unit: 'kg', tsMs }] },
    }[kind]
    const r = run(kind, { seq: 1, sentTsMs: NOW, ...item })
    expect(r.ok ? r : r.failure).toEqual({ reason, message: expect.stringMatching(message) })
  })

  it('judges a far-off send time where an item takes it, and ignores it where every item has its own', () => {
    const far = run('telemetry', { seq: 1, sentTsMs: 2 ** 60, samples: [{ signal: 'a', doubleValue: 1 }] })
    expect(!far.ok && far.failure.reason).toBe('future_timestamp')
    const before1970 = run('telemetry', { seq: 1, sentTsMs: -5, samples: [{ signal: 'a', doubleValue: 1 }] })
    expect(!before1970.ok && before1970.failure.reason).toBe('stale_timestamp')
    const own = run('telemetry', { seq: 1, sentTsMs: 2 ** 60, samples: [{ signal: 'a', doubleValue: 1, tsMs: NOW }] })
    expect(own.ok && own.message.kind === 'telemetry' && own.message.samples[0]!.tsMs).toBe(NOW)
  })

  it('derives pass/fail from spec limits when the gateway leaves the verdict unspecified', () => {
    const r = run('quality', { seq: 1, inspections: [
      { characteristic: 'd', value: 5, lsl: 4, usl: 6, tsMs: NOW },
      { characteristic: 'd', value: 7, usl: 6, tsMs: NOW },
      { characteristic: 'd', value: 7, usl: 6, verdict: 1, tsMs: NOW },
    ] })
    expect(r.ok && r.message.kind === 'quality' && r.message.inspections.map((i) => i.pass)).toEqual([true, false, true])
  })

  it('reads proto3 optional fields as absent, not zero', () => {
    const r = run('connectivity', { seq: 1, reports: [{ access: 5, rttMs: 0.4, tsMs: NOW }] })
    expect(r.ok && r.message.kind === 'connectivity' && r.message.reports[0]).toMatchObject({ access: 'ethernet', rttMs: 0.4, rsrpDbm: undefined })
  })
})
