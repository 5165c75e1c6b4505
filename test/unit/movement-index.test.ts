import { describe, expect, it } from 'vitest'
import { movementOfLine } from '../../src/api/material-index.js'
import { line, stringField } from '../../src/domain/line-protocol.js'
import type { MovementRow } from '../../src/domain/material-movements.js'
import { matchesQuery, MovementIndex } from '../../src/storage/movement-index.js'
import { MOVEMENTS } from '../../src/domain/records.js'
import { mulberry32 } from '../../src/simulator/prng.js'
import type { MovementQuery } from '../../src/storage/ports.js'

const mv = (over: Partial<MovementRow>): MovementRow => ({ zone: 'z', factory: 'f1', line: 'l1', machine: 'm1', movement: 'consumed', material: 'steel', lot: 'S-1', quantity: 1, unit: 'kg', workOrder: 'WO-1', warning: null, tsMs: 100, ...over })

/** A month of random movements on 2 factories x 2 lines x 3 machines, 40 lots, 12 work orders. */
function randomRows(n: number, seed: number): MovementRow[] {
  const rnd = mulberry32(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  return Array.from({ length: n }, () =>
    mv({ factory: pick(['f1', 'f2']), line: pick(['l1', 'l2']), machine: pick(['m1', 'm2', 'm3']), movement: pick(MOVEMENTS), lot: `L-${Math.floor(rnd() * 40)}`, workOrder: rnd() < 0.1 ? null : `WO-${Math.floor(rnd() * 12)}`, quantity: Math.round(rnd() * 100), tsMs: Math.floor(rnd() * 30) * 1000 }),
  )
}

/** What InfluxDB answers: of the points with one series and timestamp the last written, those that match, in time order. */
function reference(rows: readonly MovementRow[], q: MovementQuery): MovementRow[] {
  const points = new Map<string, MovementRow>()
  for (const r of rows) points.set(`${r.zone}/${r.factory}/${r.line}/${r.machine}/${r.movement}@${r.tsMs}`, r)
  return [...points.values()].filter((r) => matchesQuery(r, q)).sort((a, b) => a.tsMs - b.tsMs)
}

const canonical = (rows: readonly MovementRow[]) => rows.map((r) => ({ ...r })).sort((a, b) => a.tsMs - b.tsMs || `${a.factory}/${a.line}/${a.machine}/${a.movement}`.localeCompare(`${b.factory}/${b.line}/${b.machine}/${b.movement}`))

describe('MovementIndex', () => {
  it('answers lot, work-order and line queries exactly as a scan of every row would, a replayed point once', () => {
    const rows = randomRows(3000, 7)
    const index = new MovementIndex()
    for (const r of rows) index.add(r)
    index.markComplete(0)
    const rnd = mulberry32(11)
    let nonEmpty = 0
    for (let i = 0; i < 300; i++) {
      const startMs = Math.floor(rnd() * 10) * 1000
      const base = { movements: MOVEMENTS.filter(() => rnd() < 0.6), startMs, endMs: startMs + Math.floor(rnd() * 25) * 1000 }
      const qs: MovementQuery[] = [
        { ...base, scope: rnd() < 0.5 ? {} : { factory: 'f1' }, lots: [`L-${i % 40}`, `L-${(i * 7) % 40}`] },
        { ...base, scope: { factory: 'f2' }, orders: [{ zone: 'z', factory: 'f2', line: 'l1', machine: 'm2', workOrder: `WO-${i % 12}` }, { zone: 'z', factory: 'f1', line: 'l2', machine: 'm1', workOrder: `WO-${(i + 5) % 12}` }] },
        { ...base, scope: { zone: 'z', factory: 'f1', line: 'l2' }, workOrder: rnd() < 0.3 ? `WO-${i % 12}` : undefined },
      ]
      for (const q of qs) {
        const expected = reference(rows, q)
        const got = index.answer(q, 10_000)!
        // Rows of one timestamp come in no defined order, from InfluxDB as from the index.
        expect(canonical(got.rows)).toEqual(canonical(expected))
        expect(got.truncated).toBe(false)
        if (expected.length > 0) nonEmpty++
      }
    }
    expect(nonEmpty).toBeGreaterThan(300)
    const lots = index.answer({ scope: {}, movements: [...MOVEMENTS], lots: ['L-3'], startMs: 0, endMs: 30_000 }, 5)!
    expect(lots.rows).toHaveLength(5)
    expect(lots.truncated).toBe(true)
  })

  it('holds a point written twice once, and one overwritten with another lot only under that lot, as InfluxDB does', () => {
    const index = new MovementIndex()
    index.add(mv({ quantity: 1 }))
    index.add(mv({ quantity: 1 }))
    expect(index.size).toBe(1)
    index.add(mv({ quantity: 2 }))
    index.add(mv({ quantity: 3, machine: 'm2' }))
    index.add(mv({ quantity: 4, machine: 'm2', lot: 'S-2' }))
    index.markComplete(0)
    const q = (lot: string) => index.answer({ scope: {}, movements: ['consumed'], lots: [lot], startMs: 0, endMs: 1000 }, 100)!.rows.map((r) => [r.machine, r.quantity])
    expect(q('S-1')).toEqual([['m1', 2]])
    expect(q('S-2')).toEqual([['m2', 4]])
    index.prune(0, 100)
    expect(index.size).toBe(2)
  })

  it('answers as before after pruning drops most rows and the strings only they used', () => {
    const rows = randomRows(2000, 3).map((r, i) => ({ ...r, lot: `${r.lot}-${i % 500}`, tsMs: r.tsMs + (i % 7) }))
    const index = new MovementIndex()
    for (const r of rows) index.add(r)
    index.markComplete(0)
    index.prune(25_000, 10_000)
    expect(index.completeFromMs).toBe(25_000)
    const kept = rows.filter((r) => r.tsMs >= 25_000)
    for (let i = 0; i < 60; i++) {
      const q: MovementQuery = { scope: {}, movements: [...MOVEMENTS], lots: [kept[i]!.lot, `L-${i % 40}-${i}`], startMs: 25_000, endMs: 40_000 }
      expect(canonical(index.answer(q, 10_000)!.rows)).toEqual(canonical(reference(kept, q)))
      const o = kept[i]!
      const byOrder: MovementQuery = { scope: {}, movements: [...MOVEMENTS], orders: o.workOrder === null ? [] : [{ ...o, workOrder: o.workOrder }], startMs: 25_000, endMs: 40_000 }
      expect(canonical(index.answer(byOrder, 10_000)!.rows)).toEqual(canonical(reference(kept, byOrder)))
    }
    // Added after the prune, a movement is found by its lot and work order.
    index.add(mv({ lot: 'NEW', workOrder: 'WO-NEW', tsMs: 30_000 }))
    expect(index.answer({ scope: {}, movements: ['consumed'], lots: ['NEW'], startMs: 25_000, endMs: 40_000 }, 10)!.rows).toHaveLength(1)
    expect(index.answer({ scope: {}, movements: ['consumed'], orders: [{ zone: 'z', factory: 'f1', line: 'l1', machine: 'm1', workOrder: 'WO-NEW' }], startMs: 25_000, endMs: 40_000 }, 10)!.rows).toHaveLength(1)
  })

  it('leaves to the database what it cannot answer: before it is complete, older than what it holds, or not narrowed', () => {
    const index = new MovementIndex()
    index.add(mv({}))
    const q: MovementQuery = { scope: {}, movements: ['consumed'], lots: ['S-1'], startMs: 50, endMs: 1000 }
    expect(index.answer(q, 10)).toBeUndefined()
    index.markComplete(60)
    expect(index.answer(q, 10)).toBeUndefined()
    expect(index.answer({ ...q, startMs: 60 }, 10)?.rows).toHaveLength(1)
    expect(index.answer({ scope: { factory: 'f1' }, movements: ['consumed'], startMs: 60, endMs: 1000 }, 10)).toBeUndefined()
  })

  it('drops what is past the horizon or over the bound, and answers only from where it is still complete', () => {
    const index = new MovementIndex()
    for (let t = 0; t < 100; t++) index.add(mv({ tsMs: t, lot: `L-${t % 3}` }))
    index.add(mv({ tsMs: 60, lot: 'L-0', machine: 'm2' }))
    index.markComplete(0)
    index.prune(20, 1000)
    expect(index.size).toBe(81)
    expect(index.completeFromMs).toBe(20)
    // 41 rows from t=60 on (two at 60): the bound moves the start to 60 and keeps both.
    index.prune(20, 41)
    expect(index.completeFromMs).toBe(60)
    expect(index.size).toBe(41)
    expect(index.answer({ scope: {}, movements: ['consumed'], lots: ['L-0'], startMs: 59, endMs: 100 }, 100)).toBeUndefined()
    const got = index.answer({ scope: {}, movements: ['consumed'], lots: ['L-0'], startMs: 60, endMs: 100 }, 100)!
    expect(got.rows.map((r) => r.tsMs)).toEqual([60, 60, 63, 66, 69, 72, 75, 78, 81, 84, 87, 90, 93, 96, 99])
  })
})

describe('movementOfLine', () => {
  it('reads back the movement a material line was built from, escapes and optional fields included', () => {
    const text = line('material', 'factory=f1,line=l1,machine=m1,movement=produced,zone=z', { material: stringField('bar "A"\\1'), lot: stringField('W-1'), quantity: '12.5', unit: stringField('kg'), work_order: stringField('WO,7 x'), warning: undefined, seq: '3i' }, 1700000000123)
    expect(movementOfLine(text)).toEqual({ tsMs: 1700000000123, zone: 'z', factory: 'f1', line: 'l1', machine: 'm1', movement: 'produced', material: 'bar "A"\\1', lot: 'W-1', quantity: 12.5, unit: 'kg', workOrder: 'WO,7 x', warning: null })
    expect(movementOfLine('production,factory=f1,line=l1,machine=m1,zone=z good=1i 1')).toBeUndefined()
    expect(movementOfLine('material,factory=f1,line=l1,machine=m1,movement=stolen,zone=z lot="x" 1')).toBeUndefined()
  })
})
