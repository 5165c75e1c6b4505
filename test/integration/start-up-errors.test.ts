import { createServer, type Server } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testRegistry } from '../helpers/fixtures.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { startTestService } from '../helpers/service.js'

// Start-up failures from the machine rather than the values: each names the variable to change.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let dir: string
let taken: Server

beforeAll(async () => {
  influxd = await startTestInfluxd()
  dir = await mkdtemp(join(tmpdir(), 'iiot-startup-'))
  await writeFile(join(dir, 'registry.json'), JSON.stringify(await testRegistry()))
  taken = createServer()
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
})

afterAll(async () => {
  await new Promise((r) => taken?.close(r))
  await influxd?.dispose()
  await rm(dir, { recursive: true, force: true })
})

const port = () => String((taken.address() as { port: number }).port)

describe('a listener that cannot bind', () => {
  it.each([
    ['MQTT_PORT', { MQTT_PORT: 'TAKEN' }, /MQTT_PORT: cannot listen on 127\.0\.0\.1:\d+: the port is in use by another process \(EADDRINUSE\)/],
    ['MQTT_WS_PORT', { MQTT_WS_PORT: 'TAKEN' }, /MQTT_WS_PORT: cannot listen on 127\.0\.0\.1:\d+: the port is in use/],
    ['HTTP_PORT', { HTTP_PORT: 'TAKEN' }, /HTTP_PORT: cannot listen on 127\.0\.0\.1:\d+: the port is in use/],
    ['MQTT_HOST', { MQTT_HOST: '192.0.2.1' }, /MQTT_HOST: cannot listen on 192\.0\.2\.1:0: no interface of this machine has that address/],
  ])('names %s, and the next start on the same DATA_DIR works', async (_name, env, message) => {
    const withPort = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === 'TAKEN' ? port() : v]))
    await expect(startTestService(influxd.url, { dir, env: withPort })).rejects.toThrow(message)
    // Nothing left bound or locked by the failed start.
    const svc = await startTestService(influxd.url, { dir })
    await svc.close()
  })
})
