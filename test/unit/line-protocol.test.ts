import { describe, expect, it } from 'vitest'
import { escapeTag, line, stringField, floatField, intField } from '../../src/domain/line-protocol.js'
import { CounterTracker } from '../../src/pipeline/counter-tracker.js'

describe('line protocol', () => {
  it('escapes tag values', () => {
    expect(escapeTag('plain.name')).toBe('plain.name')
    expect(escapeTag('a b,c=d\\e')).toBe('a\\ b\\,c\\=d\\\\e')
    // Twice in a row: no regex state carried between calls.
    expect(escapeTag('a b')).toBe('a\\ b')
    expect(escapeTag('a b')).toBe('a\\ b')
  })
  it('quotes string fields and keeps lines single-line', () => {
    expect(stringField('say "hi" \\ there')).toBe('"say \\"hi\\" \\\\ there"')
    expect(stringField('two\nlines')).toBe('"two lines"')
  })
  it('formats numbers', () => {
    expect(floatField(41.25)).toBe('41.25')
    expect(floatField(3)).toBe('3')
    expect(intField(-7)).toBe('-7i')
  })
  it('joins measurement, tags, fields and time, skipping absent fields', () => {
    expect(line('m', 'a=1,b=2', { x: '1', y: undefined, z: '"s"' }, 1700000000000)).toBe('m,a=1,b=2 x=1,z="s" 1700000000000')
  })
})

describe('CounterTracker', () => {
  it('turns counters into deltas and treats a drop as a reset', () => {
    const t = new CounterTracker()
    expect(t.delta('m', 100, 5)).toBeUndefined()
    expect(t.delta('m', 130, 6)).toEqual({ good: 30, reject: 1 })
    expect(t.delta('m', 4, 0)).toEqual({ good: 4, reject: 0 })
    expect(t.delta('other', 9, 9)).toBeUndefined()
  })

  it('gives a report decoded again right after itself (same timestamp) no delta, so its stored delta is not overwritten with 0', () => {
    const t = new CounterTracker()
    expect(t.delta('m', 100, 5, 1000)).toBeUndefined()
    expect(t.delta('m', 130, 6, 2000)).toEqual({ good: 30, reject: 1 })
    expect(t.delta('m', 130, 6, 2000)).toBeUndefined()
    expect(t.delta('m', 140, 6, 3000)).toEqual({ good: 10, reject: 0 })
  })
})
