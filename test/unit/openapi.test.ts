import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { operationId } from '../../src/api/openapi.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { buildTestApi } from '../helpers/api-app.js'

describe('operationId', () => {
  it('names an operation by its method and path words, without the base path and parameters', () => {
    expect(operationId('GET', '/api/v1/materials/lots/:lot/trace')).toBe('getMaterialsLotsTrace')
    expect(operationId('GET', '/api/v1/telemetry/series-multi')).toBe('getTelemetrySeriesMulti')
    expect(operationId('POST', '/api/v1/sparkplug/:group/:edgeNode/rebirth')).toBe('postSparkplugRebirth')
    expect(operationId('GET', '/healthz')).toBe('getHealthz')
  })
})

describe('answers through their documented schema', () => {
  let app: FastifyInstance | undefined
  afterEach(async () => app?.close())

  async function withRoute(body: unknown) {
    const metrics = createMetrics()
    app = await buildTestApi({
      deps: { metrics },
      routes: (a) =>
        a.withTypeProvider<ZodTypeProvider>().get('/probe', { schema: { response: { 200: z.object({ count: z.number(), name: z.string().nullable() }) } } }, async () => body as never),
    })
    const res = await app.inject({ url: '/probe' })
    const mismatches = (await metrics.apiSchemaMismatches.get()).values.reduce((n, v) => n + v.value, 0)
    return { status: res.statusCode, body: res.json(), mismatches }
  }

  it('sends a matching answer without the keys the schema does not list', async () => {
    expect(await withRoute({ count: 2, name: null, internal: 'x' })).toEqual({ status: 200, body: { count: 2, name: null }, mismatches: 0 })
  })

  it('sends an answer that does not match as it is, and counts the mismatch, rather than failing the request', async () => {
    expect(await withRoute({ count: 'two', name: 'a' })).toEqual({ status: 200, body: { count: 'two', name: 'a' }, mismatches: 1 })
  })
})
