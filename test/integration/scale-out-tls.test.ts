import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ServiceProcess } from '../../bench/lib/service-process.js'
import { freePort } from '../../src/devtools/local-influxd.js'
import { mosquittoFiles } from '../../src/registry/mosquitto-files.js'
import { mosquittoHash } from '../../src/registry/mosquitto-hash.js'
import { registryFileSchema } from '../../src/registry/registry-schema.js'
import { createTestCa, type TestCa } from '../helpers/certs.js'
import { KEYS, SECRETS, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { startTestMosquitto, type TestMosquitto } from '../helpers/mosquitto.js'
import { eventually } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'

// A worker reaches its external broker over TLS (mqtts://, BROKER_CA_FILE; docs/scaling-out.md), as
// `worker+api`: one process ingesting and serving a live stream fed by the announcements.
const PASSWORD = 'service-password-0123456789'
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let mosquitto: TestMosquitto
let ca: TestCa
let dir: string
const started: ServiceProcess[] = []

async function worker(name: string, env: Record<string, string>): Promise<{ proc: ServiceProcess; url: string }> {
  const port = await freePort()
  const proc = new ServiceProcess({
    SERVICE_MODE: 'worker', DATA_DIR: join(dir, name), REGISTRY_FILE: join(dir, 'registry.json'), INFLUX_URL: influxd.url, INFLUX_DATABASE: 'tls',
    HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), BROKER_URL: mosquitto.url, BROKER_USERNAME: 'iiot-service', BROKER_PASSWORD: PASSWORD,
    BROKER_CLIENT_ID: name, BROKER_CONNECTIONS: '2', DECODE_WORKERS: '0', LOG_LEVEL: 'warn', ...env,
  }, `http://127.0.0.1:${port}`)
  started.push(proc)
  await proc.start(20_000)
  return { proc, url: `http://127.0.0.1:${port}` }
}

beforeAll(async () => {
  process.env.IIOT_SERVICE_FROM_SOURCE = '1'
  dir = await mkdtemp(join(tmpdir(), 'iiot-scaleout-tls-'))
  ca = await createTestCa(dir)
  const broker = await ca.issueBroker()
  influxd = await startTestInfluxd()
  const raw = (await testRegistry()) as { gateways: { id: string; brokerHash?: string }[] }
  raw.gateways[0]!.brokerHash = await mosquittoHash(SECRETS.gwA, 1000)
  await writeFile(join(dir, 'registry.json'), JSON.stringify(raw))
  const files = mosquittoFiles(registryFileSchema.parse(raw), { serviceUser: 'iiot-service', serviceHash: await mosquittoHash(PASSWORD, 1000), announceTopic: 'iiot-internal/v1/accepted', sparkplugHostId: 'iiot-ingest' })
  mosquitto = await startTestMosquitto(files, { certFile: broker.cert, keyFile: broker.key })
}, 60_000)

afterAll(async () => {
  for (const p of started) await p.stop()
  await mosquitto?.dispose()
  await influxd?.dispose()
  await rm(dir, { recursive: true, force: true })
}, 30_000)

describe('worker over TLS', () => {
  it('refuses a broker whose certificate it cannot verify, and ingests through one it can; its stream has each message once', async () => {
    await expect(worker('untrusting', {})).rejects.toThrow(/exited[^]*(certificate|self[- ]signed|verify)/i)
    const w = await worker('w-tls', { BROKER_CA_FILE: ca.cert, SERVICE_MODE: 'worker+api', BROKER_AUTH_SECRET: 'broker-auth-secret-0123456789' })
    // The broker HTTP auth endpoint is wired when its secret is set (docs/scaling-out.md).
    const auth = await fetch(`${w.url}/api/v1/broker/auth`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer broker-auth-secret-0123456789' }, body: JSON.stringify({ username: 'iiot-service', password: PASSWORD }) })
    expect(await auth.json()).toEqual({ result: 'allow', is_superuser: false })
    const stream = await openSseStream(w.url, '/api/v1/stream?kinds=telemetry', KEYS.all)
    const gw = await connectGateway(mosquitto.url, 'gw-a', SECRETS.gwA, { ca: await ca.read(ca.cert) })
    const t0 = Date.now() - 60_000
    for (let i = 0; i < 50; i++) await gw.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: i, samples: [{ signal: 'tls', doubleValue: i, tsMs: t0 + i }] }), { qos: 1 })
    gw.end(true)
    await eventually(async () => {
      const rows = await influxQuery(influxd.url, 'tls', `SELECT count("value") FROM "telemetry" WHERE "signal" = 'tls'`)
      return rows[0]?.values[0]?.[1] === 50
    }, 20_000, 200)
    // Fed by the announcements only (not also by its own processor): no event twice.
    await eventually(() => stream.events.length >= 50, 10_000)
    await new Promise((r) => setTimeout(r, 300))
    await stream.close()
    expect(stream.events.map((e) => e.data.message.seq).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  }, 60_000)
})
