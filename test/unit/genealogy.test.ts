import { describe, expect, it } from 'vitest'
import { buildTrace, lotsOf, type LotLink, type TraceNode } from '../../src/domain/genealogy.js'
import { consumptionByWorkOrder, loadedNow } from '../../src/domain/material-inventory.js'
import { linksOf, lotUses, originsByLot, type MovementRow } from '../../src/domain/material-movements.js'

const at = { zone: 'za', factory: 'fa', line: 'l1' }
const link = (input: string, output: string, machine = 'm1', workOrder = 'WO'): LotLink => ({ ...at, machine, input, output, material: 'x', workOrder, quantity: 1, unit: 'pcs', firstMs: 1, lastMs: 2 })
const shape = (n: TraceNode): unknown => (n.cycle ? `${n.lot}*` : n.children.length === 0 ? n.lot : { [n.lot]: n.children.map(shape) })
const row = (movement: MovementRow['movement'], lot: string, over: Partial<MovementRow> = {}): MovementRow => ({ ...at, machine: 'm1', tsMs: 10, movement, material: 'steel', lot, quantity: 1, unit: 'kg', workOrder: 'WO-1', warning: null, ...over })

describe('buildTrace', () => {
  const links = [link('S1', 'W1'), link('S2', 'W1'), link('W1', 'F1', 'm2', 'WO-2'), link('W1', 'F2', 'm2', 'WO-3')]

  it('walks back to the inputs and forward to the outputs', () => {
    const back = buildTrace({ root: 'F1', direction: 'back', depth: 5, origins: new Map(), links, maxNodes: 100 })
    expect(shape(back.root)).toEqual({ F1: [{ W1: ['S1', 'S2'] }] })
    const fwd = buildTrace({ root: 'S2', direction: 'forward', depth: 5, origins: new Map(), links, maxNodes: 100 })
    expect(shape(fwd.root)).toEqual({ S2: [{ W1: ['F1', 'F2'] }] })
    expect(fwd.cycles).toEqual([])
    expect(lotsOf(fwd.root)).toEqual(['S2', 'W1', 'F1', 'F2'])
  })

  it('stops at the depth', () => {
    const t = buildTrace({ root: 'F1', direction: 'back', depth: 1, origins: new Map(), links, maxNodes: 100 })
    expect(shape(t.root)).toEqual({ F1: ['W1'] })
  })

  it('reports a cycle once and never follows it', () => {
    const cyclic = [link('A', 'B'), link('B', 'C'), link('C', 'A'), link('S', 'B')]
    const t = buildTrace({ root: 'A', direction: 'back', depth: 50, origins: new Map(), links: cyclic, maxNodes: 1000 })
    expect(shape(t.root)).toEqual({ A: [{ C: [{ B: ['A*', 'S'] }] }] })
    expect(t.cycles).toEqual([['A', 'C', 'B', 'A']])
    const self = buildTrace({ root: 'X', direction: 'forward', depth: 5, origins: new Map(), links: [link('X', 'X')], maxNodes: 10 })
    expect(self.cycles).toEqual([['X', 'X']])
  })

  it('is bounded by maxNodes', () => {
    const wide = Array.from({ length: 50 }, (_, i) => link(`S${i}`, 'P'))
    const t = buildTrace({ root: 'P', direction: 'back', depth: 2, origins: new Map(), links: wide, maxNodes: 10 })
    expect(t.nodes).toBe(10)
    expect(t.truncated).toBe(true)
  })
})

describe('movements to origins and links', () => {
  it('sums a lot per machine and work order and links a work order’s inputs to its outputs', () => {
    const uses = lotUses([row('consumed', 'S1', { tsMs: 10, quantity: 2 }), row('consumed', 'S1', { tsMs: 30, quantity: 3 }), row('produced', 'P1', { material: 'shaft', unit: 'pcs', tsMs: 40, quantity: 5 }), row('consumed', 'S9', { machine: 'm2' })])
    expect(uses.find((u) => u.lot === 'S1')).toMatchObject({ quantity: 5, firstMs: 10, lastMs: 30 })
    expect(originsByLot(uses).get('P1')).toMatchObject([{ movement: 'produced', machine: 'm1', workOrder: 'WO-1', quantity: 5 }])
    expect(linksOf(uses, uses).map((l) => [l.input, l.output, l.quantity])).toEqual([['S1', 'P1', 5]])
  })
})

describe('consumption against the bill of materials', () => {
  it('gives expected, variance and variance % per material; a material of the bill not consumed counts as 0', () => {
    const rows = [
      row('produced', 'P1', { material: 'shaft', unit: 'pcs', quantity: 10 }),
      row('consumed', 'S1', { quantity: 21, tsMs: 5 }),
      row('consumed', 'G1', { material: 'grease', unit: 'g', quantity: 3, tsMs: 6 }),
    ]
    const bom = [{ material: 'steel', quantity: 2, unit: 'kg' }, { material: 'oil', quantity: 0.5, unit: 'l' }]
    const [wo] = consumptionByWorkOrder(rows, (f, p) => (f === 'fa' && p === 'shaft' ? bom : undefined))
    expect(wo).toMatchObject({ workOrder: 'WO-1', product: 'shaft', produced: 10, bom: true })
    expect(wo!.materials).toEqual([
      { material: 'grease', unit: 'g', consumed: 3, expected: 0, variance: 3, variancePct: null },
      { material: 'oil', unit: 'l', consumed: 0, expected: 5, variance: -5, variancePct: -100 },
      { material: 'steel', unit: 'kg', consumed: 21, expected: 20, variance: 1, variancePct: 5 },
    ])
    expect(consumptionByWorkOrder(rows, () => undefined)[0]!.materials[1]).toEqual({ material: 'steel', unit: 'kg', consumed: 21, expected: null, variance: null, variancePct: null })
  })
})

describe('loaded now', () => {
  it('keeps a lot from its load until it is unloaded or used up', () => {
    const rows = [
      row('loaded', 'A', { tsMs: 1, quantity: 10 }),
      row('loaded', 'B', { tsMs: 2, quantity: 4 }),
      row('loaded', 'C', { tsMs: 3, quantity: 0 }),
      row('consumed', 'A', { tsMs: 4, quantity: 3 }),
      row('scrapped', 'A', { tsMs: 5, quantity: 1 }),
      row('consumed', 'B', { tsMs: 6, quantity: 4 }),
      row('unloaded', 'C', { tsMs: 7 }),
      row('loaded', 'D', { tsMs: 8, machine: 'm2', quantity: 2 }),
    ]
    const now = loadedNow(rows)
    expect([...now.values()].map((m) => [m.machine.machine, m.lots.map((l) => [l.lot, l.remaining])])).toEqual([
      ['m1', [['A', 6]]],
      ['m2', [['D', 2]]],
    ])
  })
})
