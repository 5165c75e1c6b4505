import { describe, expect, it } from 'vitest'
import { LiveStateTable } from '../../src/domain/live-state.js'
import type { MaterialMovement } from '../../src/domain/records.js'
import { parseTopic, type MachineTopic } from '../../src/domain/topic.js'
import { CounterTracker } from '../../src/pipeline/counter-tracker.js'
import { MaterialTracker } from '../../src/pipeline/material-tracker.js'
import { toLines } from '../../src/pipeline/to-lines.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { encode, types } from '../helpers/gateway.js'

const NOW = 1_800_000_000_000
const validate = createValidator({ maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, maxBatch: 4, maxStringLength: 32 }, () => NOW)
const run = (movements: Record<string, unknown>[]) => validate('material', types.material.decode(encode('material', { seq: 7, sentTsMs: NOW, movements })))
const mv = (over: Record<string, unknown> = {}) => ({ movement: 3, material: 'steel-bar', lot: 'S-1', quantity: 2.5, unit: 'kg', workOrder: 'WO-1', tsMs: NOW - 10, ...over })

describe('material kind: topic, validation, storage', () => {
  it('is a machine kind of the topic grammar', () => {
    expect(parseTopic('iiot/v1/za/fa/l1/m1/material')).toEqual({ ok: true, topic: { scope: 'machine', zone: 'za', factory: 'fa', line: 'l1', machine: 'm1', kind: 'material' } })
  })

  it('decodes and validates a batch of movements', () => {
    const r = run([mv({ movement: 2, workOrder: '' }), mv(), mv({ movement: 4, material: 'shaft', lot: 'P-1', quantity: 10, unit: 'pcs', tsMs: NOW - 5 })])
    expect(r).toEqual({
      ok: true,
      message: {
        kind: 'material',
        seq: 7,
        sentTsMs: NOW,
        movements: [
          { movement: 'loaded', material: 'steel-bar', lot: 'S-1', quantity: 2.5, unit: 'kg', workOrder: '', tsMs: NOW - 10 },
          { movement: 'consumed', material: 'steel-bar', lot: 'S-1', quantity: 2.5, unit: 'kg', workOrder: 'WO-1', tsMs: NOW - 10 },
          { movement: 'produced', material: 'shaft', lot: 'P-1', quantity: 10, unit: 'pcs', workOrder: 'WO-1', tsMs: NOW - 5 },
        ],
      },
    })
  })

  it.each([
    ['unknown_unit', mv({ unit: 'furlong' }), 'unit "furlong" is not one of'],
    ['negative_quantity', mv({ quantity: -1 }), 'quantity -1 of lot "S-1" is negative'],
    ['invalid_enum', mv({ movement: 0 }), 'unknown or unspecified movement 0'],
    ['invalid_enum', mv({ movement: 9 }), 'unknown or unspecified movement 9'],
    ['missing_value', mv({ workOrder: '' }), 'a consumed movement needs a work order'],
    ['missing_value', mv({ movement: 4, workOrder: '' }), 'a produced movement needs a work order'],
    ['invalid_name', mv({ lot: 'lot with spaces' }), 'lot'],
    ['invalid_name', mv({ material: '' }), 'material'],
    ['non_finite_number', mv({ quantity: Number.NaN }), 'quantity'],
  ])('rejects %s (%#)', (reason, movement, text) => {
    const r = run([movement])
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.failure.reason).toBe(reason)
      expect(r.failure.message).toContain(text)
    }
  })

  it('rejects two movements of one kind at the same millisecond (they would be one point)', () => {
    const r = run([mv({ lot: 'S-1' }), mv({ lot: 'S-2' })])
    expect(r.ok || r.failure).toMatchObject({ reason: 'invalid_payload', message: expect.stringContaining('give each its own millisecond') })
  })

  it('stores lots, work orders and materials as fields; only the movement joins the machine tags', () => {
    const topic = parseTopic('iiot/v1/za/fa/l1/m1/material')
    const r = run([mv({ workOrder: 'WO 1,"x"' })])
    if (!topic.ok || !r.ok) throw new Error('setup')
    const lines = toLines(topic.topic as MachineTopic, r.message, { counters: new CounterTracker(), live: new LiveStateTable() })
    expect(lines).toEqual([`material,factory=fa,line=l1,machine=m1,movement=consumed,zone=za material="steel-bar",lot="S-1",quantity=2.5,unit="kg",work_order="WO 1,\\"x\\"",seq=7i ${NOW - 10}`])
  })
})

describe('MaterialTracker: a lot consumed before it was loaded is a counted warning', () => {
  const m = (movement: MaterialMovement['movement'], lot: string): MaterialMovement => ({ movement, material: 'x', lot, quantity: 1, unit: 'pcs', workOrder: 'WO', tsMs: 1 })

  it('warns for a lot not loaded at that machine, once the machine reports loads', () => {
    const t = new MaterialTracker()
    expect(t.apply('k1', m('consumed', 'A'))).toBeUndefined() // no loads seen at k1 yet: not judged
    t.apply('k1', m('loaded', 'A'))
    expect(t.apply('k1', m('consumed', 'A'))).toBeUndefined()
    expect(t.apply('k1', m('consumed', 'B'))).toBe('consumed_before_loaded')
    t.apply('k2', m('loaded', 'B'))
    expect(t.apply('k1', m('consumed', 'B'))).toBe('consumed_before_loaded') // loaded elsewhere
  })

  it('stores the warning with the movement, which is not rejected', () => {
    const topic = parseTopic('iiot/v1/za/fa/l1/m1/material')
    const loaded = run([mv({ movement: 2, lot: 'S-9', workOrder: '' })])
    const consumed = run([mv({ lot: 'S-1' })])
    if (!topic.ok || !loaded.ok || !consumed.ok) throw new Error('setup')
    const trackers = { counters: new CounterTracker(), live: new LiveStateTable(), materials: new MaterialTracker() }
    toLines(topic.topic as MachineTopic, loaded.message, trackers)
    const [line] = toLines(topic.topic as MachineTopic, consumed.message, trackers)
    expect(line).toContain(',warning="consumed_before_loaded",')
  })
})
