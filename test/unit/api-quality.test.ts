import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { InspectionRow } from '../../src/storage/ports.js'
import { buildTestApi } from '../helpers/api-app.js'
import { KEYS } from '../helpers/fixtures.js'

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

const inspection = (value: number, spec: Partial<InspectionRow> = {}): InspectionRow => ({
  time: new Date(Date.now() - 60_000).toISOString(),
  zone: 'za',
  factory: 'fa',
  line: 'l1',
  machine: 'm1',
  characteristic: 'bore',
  value,
  lsl: null,
  usl: null,
  target: null,
  unit: 'mm',
  pass: null,
  defectCode: null,
  lot: null,
  ...spec,
})

async function spc(query: string, rows: InspectionRow[] = []) {
  app = await buildTestApi({ manufacturing: { inspections: async () => rows } })
  const res = await app.inject({ url: `/api/v1/quality/spc?factory=fa&line=l1&machine=m1&characteristic=bore&${query}`, headers: { authorization: `Bearer ${KEYS.all}` } })
  return { status: res.statusCode, type: String(res.headers['content-type']), body: res.json() }
}

describe('GET /quality/spc spec limits', () => {
  it('answers 400 problem+json naming lsl and usl when lsl is not below usl', async () => {
    for (const query of ['lsl=10&usl=5', 'lsl=5&usl=5']) {
      const r = await spc(query, [inspection(7), inspection(8)])
      expect(r.status, query).toBe(400)
      expect(r.type).toContain('application/problem+json')
      expect(r.body.code).toBe('IIOT_ERR_API_BAD_REQUEST')
      expect(r.body.errors.map((e: { parameter: string }) => e.parameter).sort()).toEqual(['lsl', 'usl'])
      expect(r.body.detail).toMatch(/lsl: .*usl/)
    }
  })

  it('answers 400 naming the one limit given when it crosses the other limit of the stored spec', async () => {
    const rows = [inspection(25, { lsl: 24.9, usl: 25.1 }), inspection(25.02, { lsl: 24.9, usl: 25.1 })]
    const low = await spc('lsl=30', rows)
    expect(low.status).toBe(400)
    expect(low.body.errors.map((e: { parameter: string }) => e.parameter)).toEqual(['lsl'])
    expect(low.body.detail).toContain('25.1')
    const high = await spc('usl=20', rows)
    expect(high.status).toBe(400)
    expect(high.body.errors.map((e: { parameter: string }) => e.parameter)).toEqual(['usl'])
  })

  it('computes with limits in order, given or stored', async () => {
    const rows = [inspection(25, { lsl: 24.9, usl: 25.1 }), inspection(25.02, { lsl: 24.9, usl: 25.1 })]
    const given = await spc('lsl=24.8&usl=25.2', rows)
    expect(given.status).toBe(200)
    expect(given.body.spec).toMatchObject({ lsl: 24.8, usl: 25.2 })
    const mixed = await spc('lsl=24.95', rows)
    expect(mixed.status).toBe(200)
    expect(mixed.body.spec).toMatchObject({ lsl: 24.95, usl: 25.1 })
  })
})
