import { describe, expect, it } from 'vitest'
import type { BindParams, InfluxQLClient, InfluxSeries } from '../../src/storage/influx/influxql-client.js'
import { createInfluxMaterialsReader } from '../../src/storage/influx/materials-reader.js'
import { buildTestApi } from '../helpers/api-app.js'
import { KEYS } from '../helpers/fixtures.js'

/** A client that records what it is asked and answers with `series` for each statement. */
function recordingClient(series: (q: string) => InfluxSeries[] = () => []) {
  const calls: { queries: readonly string[]; params: BindParams }[] = []
  const client = { selectMany: async (queries: readonly string[], params: BindParams) => (calls.push({ queries, params }), queries.map(series)) }
  return { client: client as unknown as InfluxQLClient, calls }
}

const hostile = `x' OR 1=1; DROP DATABASE "d" --`

describe('materials reader: InfluxQL built with bound parameters only', () => {
  it('never puts a lot, work order or scope value into the query text', async () => {
    const { client, calls } = recordingClient()
    const reader = createInfluxMaterialsReader(client)
    const orders = [{ zone: 'za', factory: 'fa', line: 'l1', machine: 'm1', workOrder: hostile }]
    await reader.movements({ scope: { zone: 'za', factory: hostile }, movements: ['consumed', 'produced'], lots: [hostile, 'L-2'], orders, workOrder: hostile, startMs: 0, endMs: 1000 }, 10)
    await reader.inspectionsOfLots({ factory: hostile }, [hostile], 0, 1000, 10)
    expect(calls).toHaveLength(2)
    for (const c of calls) {
      for (const q of c.queries) expect(q).not.toContain('DROP')
      expect(Object.values(c.params)).toContain(hostile)
    }
  })

  it('splits many lots over several statements, each with its own parameters', async () => {
    const { client, calls } = recordingClient()
    const lots = Array.from({ length: 100 }, (_, i) => `L-${i}`)
    await createInfluxMaterialsReader(client).movements({ scope: {}, movements: ['produced'], lots, startMs: 0, endMs: 1 }, 10)
    const queries = calls.flatMap((c) => c.queries)
    expect(queries).toHaveLength(3)
    const params = Object.assign({}, ...calls.map((c) => c.params))
    expect(lots.every((l) => Object.values(params).includes(l))).toBe(true)
  })

  it('reads nothing for an empty lot or work-order list', async () => {
    const { client, calls } = recordingClient()
    expect(await createInfluxMaterialsReader(client).movements({ scope: {}, movements: ['consumed'], lots: [], startMs: 0, endMs: 1 }, 10)).toEqual({ rows: [], truncated: false })
    expect(calls).toEqual([])
  })

  it('says when more rows matched than the limit', async () => {
    const row = (t: number) => [t, 'steel', 'L-1', 1, 'kg', 'WO', null]
    const { client } = recordingClient(() => [{ name: 'material', tags: { zone: 'za', factory: 'fa', line: 'l1', machine: 'm1', movement: 'consumed' }, columns: ['time', 'material', 'lot', 'quantity', 'unit', 'work_order', 'warning'], values: [row(1), row(2), row(3)] }])
    const r = await createInfluxMaterialsReader(client).movements({ scope: {}, movements: ['consumed'], startMs: 0, endMs: 10 }, 2)
    expect(r.truncated).toBe(true)
    expect(r.rows.map((x) => x.tsMs)).toEqual([1, 2])
  })
})

describe('materials routes in memory', () => {
  it('validates the trace parameters', async () => {
    const app = await buildTestApi()
    try {
      const get = async (url: string) => (await app.inject({ url, headers: { authorization: `Bearer ${KEYS.all}` } })).statusCode
      expect(await get('/api/v1/materials/lots/L-1/trace')).toBe(200)
      expect(await get('/api/v1/materials/lots/L-1/trace?depth=0')).toBe(400)
      expect(await get('/api/v1/materials/lots/L-1/trace?depth=21')).toBe(400)
      expect(await get('/api/v1/materials/lots/L-1/trace?direction=sideways')).toBe(400)
      expect(await get('/api/v1/materials/loaded?lookback=forever')).toBe(400)
      expect((await app.inject({ url: '/api/v1/materials/consumption' })).statusCode).toBe(401)
    } finally {
      await app.close()
    }
  })
})
