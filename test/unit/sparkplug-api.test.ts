import { afterEach, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { KEYS } from '../helpers/fixtures.js'
import { buildTestApi } from '../helpers/api-app.js'

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

it('the rebirth command is in the OpenAPI document; without a Sparkplug host (or node) it answers 404, without a key 401', async () => {
  app = await buildTestApi()
  const docs = await app.inject({ method: 'GET', url: '/docs/json' })
  expect(Object.keys(JSON.parse(docs.body).paths)).toContain('/api/v1/sparkplug/{group}/{edgeNode}/rebirth')
  expect((await app.inject({ method: 'POST', url: '/api/v1/sparkplug/plant-a/edge-1/rebirth', headers: { authorization: `Bearer ${KEYS.all}` } })).statusCode).toBe(404)
  expect((await app.inject({ method: 'POST', url: '/api/v1/sparkplug/plant-a/edge-1/rebirth' })).statusCode).toBe(401)
})
