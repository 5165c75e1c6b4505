import { describe, expect, it } from 'vitest'
import { createLineCache } from '../../src/api/line-cache.js'
import { traceLot, type TraceRequest } from '../../src/api/materials-trace.js'
import type { MovementRow } from '../../src/domain/material-movements.js'
import { matchesQuery } from '../../src/storage/movement-index.js'
import type { MaterialsReader, MovementQuery } from '../../src/storage/ports.js'

/** A reader over rows in memory, with the port's filter semantics; it records each query's scope. */
function memoryReader(rows: MovementRow[]) {
  const scopes: MovementQuery['scope'][] = []
  const reader: MaterialsReader = {
    async movements(q, limit) {
      scopes.push(q.scope)
      const hit = rows.filter((r) => matchesQuery(r, q))
      return { rows: hit.slice(0, limit), truncated: hit.length > limit }
    },
    inspectionsOfLots: async () => [],
  }
  return { reader, scopes }
}

const mv = (factory: string, line: string, machine: string, movement: MovementRow['movement'], lot: string, workOrder: string | null, tsMs: number): MovementRow => ({ zone: 'z', factory, line, machine, movement, material: 'x', lot, quantity: 1, unit: 'pcs', workOrder, warning: null, tsMs })
const request = (lot: string, over: Partial<TraceRequest> = {}): TraceRequest => ({ scope: {}, lot, direction: 'back', depth: 5, startMs: 0, endMs: 1000, maxLots: 100, maxRows: 1000, ...over })

describe('traceLot', () => {
  // f1: l2/m2 makes F from W (WO-2); W was made on l1/m1 from S (WO-1), S received on l1/m1. A lot "W" also exists in f2.
  const rows = [
    mv('f1', 'l1', 'm1', 'received', 'S', null, 1),
    mv('f1', 'l1', 'm1', 'consumed', 'S', 'WO-1', 2),
    mv('f1', 'l1', 'm1', 'produced', 'W', 'WO-1', 3),
    mv('f1', 'l2', 'm2', 'consumed', 'W', 'WO-2', 4),
    mv('f1', 'l2', 'm2', 'produced', 'F', 'WO-2', 5),
    mv('f2', 'l1', 'm1', 'produced', 'W', 'WO-9', 3),
  ]

  it('narrows to the root lot’s factory, reads the root’s line once, looks on the consuming line first, then in the factory', async () => {
    const { reader, scopes } = memoryReader(rows)
    const t = await traceLot(reader, request('F'))
    const lots = (n: any): unknown => (n.children.length ? { [n.lot]: n.children.map(lots) } : n.lot)
    expect(lots(t.tree.root)).toEqual({ F: [{ W: ['S'] }] })
    expect(t.tree.root.children[0]!.origins.map((o) => o.factory)).toEqual(['f1']) // not f2's W
    expect(scopes).toEqual([
      {}, // the root, anywhere in the key's scope
      { zone: 'z', factory: 'f1', line: 'l2' }, // the line that made F, read once: WO-2's consumption and W's lookup there come from memory
      { zone: 'z', factory: 'f1' }, // W is not from l2: looked for in the factory
      { zone: 'z', factory: 'f1' }, // WO-1's consumption (on l1, not read whole)
      { zone: 'z', factory: 'f1', line: 'l1' }, // S, where it was consumed: found
      { zone: 'z', factory: 'f1' }, // S was received, not produced: no work order to read (the InfluxDB reader answers [] without a query)
    ])
  })

  it('stops at maxLots and says so', async () => {
    const wide = [mv('f1', 'l1', 'm1', 'produced', 'P', 'WO', 50), ...Array.from({ length: 20 }, (_, i) => mv('f1', 'l1', 'm1', 'consumed', `S${i}`, 'WO', i))]
    const t = await traceLot(memoryReader(wide).reader, request('P', { maxLots: 5 }))
    expect(t.truncated).toBe(true)
    expect(t.tree.root.children.map((c) => c.lot)).toEqual(['S0', 'S1', 'S2', 'S3'])
  })

  it('reads a line whole only when it is small enough; otherwise every read goes to the database', async () => {
    const { reader, scopes } = memoryReader(rows)
    const small = createLineCache(reader, { startMs: 0, endMs: 1000 })
    expect(await small.load({ zone: 'z', factory: 'f1', line: 'l1' })).toBe(true)
    const q = { scope: { zone: 'z', factory: 'f1', line: 'l1' }, movements: ['consumed' as const], startMs: 0, endMs: 1000 }
    expect((await small.reader.movements(q, 10)).rows.map((r) => r.lot)).toEqual(['S'])
    expect(scopes).toHaveLength(1) // the load only
    const big = createLineCache({ ...reader, movements: async () => ({ rows: [], truncated: true }) }, { startMs: 0, endMs: 1000 })
    expect(await big.load({ zone: 'z', factory: 'f1', line: 'l1' })).toBe(false)
  })
})
