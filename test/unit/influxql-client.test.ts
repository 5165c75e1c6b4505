import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import { isAppError, type AppError } from '../../src/errors.js'
import { InfluxQLClient } from '../../src/storage/influx/influxql-client.js'

let server: Server | undefined
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  server = undefined
})

/** An InfluxDB stand-in on a loopback port that answers every request the same way. */
async function influxAnswering(status: number, body: string): Promise<string> {
  server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body))
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function failure(url: string): Promise<AppError> {
  const client = new InfluxQLClient(loadConfig({ INFLUX_URL: url, INFLUX_TIMEOUT_MS: '2000' }).influx)
  const err = await client.select('SELECT * FROM "telemetry"').then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isAppError(err), String(err)).toBe(true)
  return err as AppError
}

describe('InfluxQL client failures are AppErrors from the catalogue, with their cause', () => {
  it('unreachable, 5xx, 429 and a non-JSON 5xx body: IIOT_ERR_STORAGE_UNAVAILABLE, retriable', async () => {
    const closed = await influxAnswering(200, '{}')
    await new Promise((resolve) => server!.close(resolve))
    server = undefined
    const down = await failure(closed)
    expect(down).toMatchObject({ code: 'IIOT_ERR_STORAGE_UNAVAILABLE', retriable: true, status: 503 })
    expect(down.cause).toBeInstanceOf(Error)
    for (const [status, body] of [
      [500, '{"error":"engine down"}'],
      [429, '{"error":"slow down"}'],
      [502, '<html>bad gateway</html>'],
    ] as const) {
      const url = await influxAnswering(status, body)
      expect(await failure(url), `${status}`).toMatchObject({ code: 'IIOT_ERR_STORAGE_UNAVAILABLE', retriable: true })
      await new Promise((resolve) => server!.close(resolve))
      server = undefined
    }
  })

  it('a refused query (4xx, or 200 with a statement error): IIOT_ERR_STORAGE_QUERY, not retriable', async () => {
    for (const [status, body] of [
      [400, '{"error":"error parsing query"}'],
      [401, '{"error":"authorization failed"}'],
      [200, '{"results":[{"statement_id":0,"error":"database not found: x"}]}'],
    ] as const) {
      const url = await influxAnswering(status, body)
      expect(await failure(url), `${status}`).toMatchObject({ code: 'IIOT_ERR_STORAGE_QUERY', retriable: false, status: 502 })
      await new Promise((resolve) => server!.close(resolve))
      server = undefined
    }
  })
})

describe('InfluxQL answers compressed only when INFLUX_GZIP is on', () => {
  it('asks a loopback InfluxDB (auto) for identity, and for gzip when INFLUX_GZIP=true', async () => {
    const asked: (string | undefined)[] = []
    server = createServer((req, res) => {
      asked.push(req.headers['accept-encoding'])
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}')
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    await new InfluxQLClient(loadConfig({ INFLUX_URL: url }).influx).select('SELECT * FROM "telemetry"')
    await new InfluxQLClient(loadConfig({ INFLUX_URL: url, INFLUX_GZIP: 'true' }).influx).select('SELECT * FROM "telemetry"')
    expect(asked[0]).toBe('identity')
    expect(asked[1]).toMatch(/gzip/)
  })
})
