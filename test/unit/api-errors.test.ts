import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { AppError } from '../../src/errors.js'
import { buildTestApi } from '../helpers/api-app.js'
import { KEYS } from '../helpers/fixtures.js'

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

const auth = { authorization: `Bearer ${KEYS.all}` }

async function problem(res: { statusCode: number; headers: Record<string, unknown>; json(): any }) {
  expect(String(res.headers['content-type'])).toContain('application/problem+json')
  const body = res.json()
  expect(body.status).toBe(res.statusCode)
  return body
}

describe('every error answer is a problem from the catalogue', () => {
  it("Fastify's own errors: bad URL 400, route parameter too long 414, unknown route 404", async () => {
    app = await buildTestApi()
    const badUrl = await app.inject({ url: '/api/v1/records/%E0%A4%A', headers: auth })
    expect(badUrl.statusCode).toBe(400)
    expect(await problem(badUrl)).toMatchObject({ code: 'IIOT_ERR_API_BAD_REQUEST', title: 'Bad Request' })
    const longParam = await app.inject({ url: `/api/v1/records/${'x'.repeat(300)}`, headers: auth })
    expect(longParam.statusCode).toBe(414)
    expect(await problem(longParam)).toMatchObject({ code: 'IIOT_ERR_API_URI_TOO_LONG', title: 'URI Too Long' })
    const noRoute = await app.inject({ url: '/api/v1/nothing-here', headers: auth })
    expect(await problem(noRoute)).toMatchObject({ status: 404, code: 'IIOT_ERR_API_NOT_FOUND', title: 'Not Found' })
  })

  it("Fastify's body errors on a route that takes a body: too large 413, unsupported media type 415, bad JSON 400", async () => {
    app = await buildTestApi({ routes: (a) => a.post('/test/body', async () => ({ ok: true })) })
    const big = await app.inject({ method: 'POST', url: '/test/body', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'y'.repeat(100_000) }) })
    expect(await problem(big)).toMatchObject({ status: 413, code: 'IIOT_ERR_API_TOO_LARGE', title: 'Payload Too Large' })
    const media = await app.inject({ method: 'POST', url: '/test/body', headers: { 'content-type': 'text/x-unknown' }, payload: 'x' })
    expect(await problem(media)).toMatchObject({ status: 415, code: 'IIOT_ERR_API_UNSUPPORTED_MEDIA_TYPE', title: 'Unsupported Media Type' })
    const json = await app.inject({ method: 'POST', url: '/test/body', headers: { 'content-type': 'application/json' }, payload: '{' })
    expect(await problem(json)).toMatchObject({ status: 400, code: 'IIOT_ERR_API_BAD_REQUEST' })
  })

  it('storage failures: 503 when InfluxDB is unreachable, 502 when it refuses the query, without internals', async () => {
    const cause = new Error('connect ECONNREFUSED 10.1.2.3:8086')
    let failure: Error = new AppError('IIOT_ERR_STORAGE_UNAVAILABLE', 'InfluxDB unreachable at http://10.1.2.3:8086: connect ECONNREFUSED', { cause })
    app = await buildTestApi({
      telemetry: {
        latest: async () => {
          throw failure
        },
      },
    })
    const down = await app.inject({ url: '/api/v1/telemetry/latest', headers: auth })
    expect(await problem(down)).toMatchObject({ status: 503, code: 'IIOT_ERR_STORAGE_UNAVAILABLE', title: 'Service Unavailable' })
    expect(down.body).not.toMatch(/ECONNREFUSED|10\.1\.2\.3/)
    failure = new AppError('IIOT_ERR_STORAGE_QUERY', 'InfluxDB query failed: error parsing query: secret detail')
    const refused = await app.inject({ url: '/api/v1/telemetry/latest', headers: auth })
    expect(await problem(refused)).toMatchObject({ status: 502, code: 'IIOT_ERR_STORAGE_QUERY', title: 'Bad Gateway' })
    expect(refused.body).not.toContain('secret detail')
    failure = new TypeError("Cannot read properties of undefined (reading 'x')")
    const bug = await app.inject({ url: '/api/v1/telemetry/latest', headers: auth })
    expect(await problem(bug)).toMatchObject({ status: 500, code: 'IIOT_ERR_INTERNAL', title: 'Internal Server Error' })
    expect(bug.body).not.toContain('reading')
  })
})
