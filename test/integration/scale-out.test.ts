import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { processExists, ServiceProcess } from '../../bench/lib/service-process.js'
import { runRegistryCommand } from '../../src/cli/registry-commands.js'
import { freePort } from '../../src/devtools/local-influxd.js'
import { mosquittoHash } from '../../src/registry/mosquitto-hash.js'
import { KEYS, SECRETS, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { startTestMosquitto, type TestMosquitto } from '../helpers/mosquitto.js'
import { apiGet, eventually } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'

// Worker mode (docs/scaling-out.md): Debian's mosquitto as the external broker, its password and
// ACL files generated from the registry; three workers sharing `$share/iiot-ingest/iiot/v1/#`,
// and one API node; all on one InfluxDB.
const DB = 'scaleout'
const SERVICE_PASSWORD = 'service-password-0123456789'
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let mosquitto: TestMosquitto
let dir: string
const workers: ServiceProcess[] = []
const workerUrls: string[] = []
let apiNode: ServiceProcess
let apiUrl: string
const gateways: MqttClient[] = []

async function node(name: string, mode: string, extra: Record<string, string> = {}): Promise<{ proc: ServiceProcess; url: string }> {
  const httpPort = await freePort()
  const url = `http://127.0.0.1:${httpPort}`
  const proc = new ServiceProcess({
    SERVICE_MODE: mode,
    DATA_DIR: join(dir, name),
    REGISTRY_FILE: join(dir, 'registry.json'),
    INFLUX_URL: influxd.url,
    INFLUX_DATABASE: DB,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    BROKER_URL: mosquitto.url,
    BROKER_USERNAME: 'iiot-service',
    BROKER_PASSWORD: SERVICE_PASSWORD,
    BROKER_CLIENT_ID: name,
    BROKER_CONNECTIONS: '2',
    DECODE_WORKERS: '0',
    WRITE_LINGER_MS: '20',
    LOG_LEVEL: 'warn',
    ...extra,
  }, url)
  await proc.start()
  return { proc, url }
}

beforeAll(async () => {
  process.env.IIOT_SERVICE_FROM_SOURCE = '1'
  influxd = await startTestInfluxd()
  dir = await mkdtemp(join(tmpdir(), 'iiot-scaleout-'))
  const registry = (await testRegistry()) as { gateways: { id: string; brokerHash?: string }[] }
  // As `add-gateway --broker-hash` keeps it; fewer iterations: the test checks the format, not the cost.
  registry.gateways.find((g) => g.id === 'gw-a')!.brokerHash = await mosquittoHash(SECRETS.gwA, 1000)
  registry.gateways.find((g) => g.id === 'gw-b')!.brokerHash = await mosquittoHash(SECRETS.gwB, 1000)
  await writeFile(join(dir, 'registry.json'), JSON.stringify(registry))
  const said: string[] = []
  await runRegistryCommand(['mosquitto-config', '--file', join(dir, 'registry.json'), '--out', join(dir, 'broker')], { BROKER_USERNAME: 'iiot-service', BROKER_PASSWORD: SERVICE_PASSWORD }, (l) => said.push(l))
  expect(said.join('\n')).not.toContain(SERVICE_PASSWORD)
  mosquitto = await startTestMosquitto({ passwd: await readFile(join(dir, 'broker', 'passwd'), 'utf8'), acl: await readFile(join(dir, 'broker', 'acl'), 'utf8') })
  for (let i = 0; i < 3; i++) {
    const w = await node(`w${i}`, 'worker')
    workers.push(w.proc)
    workerUrls.push(w.url)
  }
  const a = await node('api1', 'api')
  apiNode = a.proc
  apiUrl = a.url
  gateways.push(await connectGateway(mosquitto.url, 'gw-a', SECRETS.gwA), await connectGateway(mosquitto.url, 'gw-b', SECRETS.gwB))
}, 120_000)

afterAll(async () => {
  for (const g of gateways) g.end(true)
  await apiNode?.stop()
  for (const w of workers) await w.stop()
  await mosquitto?.dispose()
  await influxd?.dispose()
  await rm(dir, { recursive: true, force: true })
}, 60_000)

const T0 = Date.now() - 3_600_000
let next = 0
let acked = 0

/**
 * `n` telemetry messages at QoS 1 from both gateways (a window of 20 unacknowledged each), every
 * sample at its own timestamp; counts the PUBACKs the broker sent. `during` runs once `at` are acknowledged.
 */
async function load(n: number, signal = 'so', at = -1, during?: () => Promise<void>): Promise<number> {
  const topics = [['iiot/v1/za/fa/l1/m1/telemetry', 'iiot/v1/za/fa/l1/m2/telemetry'], ['iiot/v1/zb/fb/l1/m1/telemetry']] as const
  let done = 0
  let hook: Promise<void> | undefined
  const per = Math.ceil(n / 2)
  await Promise.all(gateways.map(async (gw, g) => {
    const inFlight = new Set<Promise<void>>()
    for (let k = 0; k < per; k++) {
      const idx = next++
      const topic = topics[g]![k % topics[g]!.length]!
      const p: Promise<void> = gw.publishAsync(topic, encode('telemetry', { seq: idx, samples: [{ signal, doubleValue: idx, tsMs: T0 + idx }] }), { qos: 1 }).then(() => {
        done++
        if (done === at && during) hook = during()
      }).finally(() => inFlight.delete(p))
      inFlight.add(p)
      if (inFlight.size >= 20) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  }))
  await hook
  return done
}

async function stored(signal = 'so'): Promise<number> {
  const rows = await influxQuery(influxd.url, DB, `SELECT count("value") FROM "telemetry" WHERE "signal" = '${signal}'`)
  return Number(rows[0]?.values[0]?.[1] ?? 0)
}

async function acceptedBy(url: string): Promise<number> {
  const s = await apiGet(url, '/api/v1/ingest/stats', KEYS.all)
  return Number(s.body.accepted?.telemetry ?? 0)
}

describe('worker mode behind mosquitto', () => {
  it('(a) every message the broker acknowledged to a gateway is in InfluxDB, and every worker took a share', async () => {
    acked += await load(1500)
    expect(acked).toBe(1500)
    await eventually(async () => (await stored()) === acked, 30_000, 200)
    for (const url of workerUrls) expect(await acceptedBy(url)).toBeGreaterThan(0)
  }, 60_000)

  it('(b) a worker killed with SIGKILL mid-load and restarted loses nothing', async () => {
    const victim = workers[0]!
    const pid = victim.pid!
    acked += await load(1500, 'so', 500, async () => {
      await victim.kill()
      expect(processExists(pid)).toBe(false)
      await victim.start()
    })
    expect(victim.pid).not.toBe(pid)
    await eventually(async () => (await stored()) === acked, 30_000, 200)
  }, 90_000)

  it('(b) a worker whose journal is full acknowledges nothing: the broker holds its share, and a SIGKILL then loses nothing', async () => {
    await workers[1]!.stop()
    // Free space it can never have: the journal counts as full from the start (docs/delivery.md).
    const full = await node('w1', 'worker', { JOURNAL_MIN_FREE_BYTES: String(2 ** 50) })
    workers[1] = full.proc
    const before = await stored()
    acked += await load(600)
    // The two other workers store theirs; the full one's share stays with the broker, unacknowledged by it.
    await eventually(async () => (await stored()) - before >= 300, 30_000, 200)
    await new Promise((r) => setTimeout(r, 1000))
    expect(await stored()).toBeLessThan(acked)
    const pid = full.proc.pid!
    await full.proc.kill()
    expect(processExists(pid)).toBe(false)
    const back = await node('w1', 'worker')
    workers[1] = back.proc
    workerUrls[1] = back.url
    await eventually(async () => (await stored()) === acked, 30_000, 200)
  }, 90_000)

  it('(c) a worker gone for good: the others take the new load; what the broker held for its sessions comes when its client id returns', async () => {
    const gone = workers[2]!
    const pid = gone.pid!
    await gone.kill()
    expect(processExists(pid)).toBe(false)
    const before = await stored()
    acked += await load(900)
    // Two of the three workers' sessions: about 600 of the 900.
    await eventually(async () => (await stored()) - before >= 500, 30_000, 200)
    await new Promise((r) => setTimeout(r, 1000))
    const whileGone = await stored()
    // Mosquitto keeps dealing messages to the dead worker's persistent sessions (round robin over
    // the group's sessions, connected or not) and queues them: the rest are already stored.
    expect(acked - whileGone).toBeGreaterThan(0)
    const back = await node('w2', 'worker')
    workers[2] = back.proc
    workerUrls[2] = back.url
    await eventually(async () => (await stored()) === acked, 30_000, 200)
  }, 90_000)
})

describe('API node and generated ACL', () => {
  it('(d) the API node\'s state and stream cover the machines every worker ingested', async () => {
    const stream = await openSseStream(apiUrl, '/api/v1/stream?kinds=state', KEYS.all)
    try {
      const machines = [[0, 'iiot/v1/za/fa/l1/m1/state'], [0, 'iiot/v1/za/fa/l1/m2/state'], [1, 'iiot/v1/zb/fb/l1/m1/state']] as const
      const t = Date.now() - 60_000
      // 30 messages over the workers' 6 sessions: the broker deals them round the group.
      for (let seq = 1; seq <= 10; seq++) {
        for (const [g, topic] of machines) await gateways[g]!.publishAsync(topic, encode('state', { seq, changes: [{ state: seq === 10 ? 6 : 1, alarmCodes: seq === 10 ? ['A7'] : [], tsMs: t + seq * 1000 }] }), { qos: 1 })
      }
      await eventually(() => stream.events.filter((e) => e.event === 'state').length >= 30, 20_000)
      const seen = new Set(stream.events.map((e) => `${e.data.factory}/${e.data.machine}`))
      expect([...seen].sort()).toEqual(['fa/m1', 'fa/m2', 'fb/m1'])
      const state = await apiGet(apiUrl, '/api/v1/equipment/state', KEYS.all)
      expect(state.body.machines.map((m: any) => [m.factory, m.machine, m.state])).toEqual([['fa', 'm1', 'fault'], ['fa', 'm2', 'fault'], ['fb', 'm1', 'fault']])
      const alarms = await apiGet(apiUrl, '/api/v1/equipment/alarms', KEYS.all)
      expect(alarms.body.alarms).toHaveLength(3)
      // The API node took none of them from the broker's share: every worker did.
      for (const url of workerUrls) expect(Number((await apiGet(url, '/api/v1/ingest/stats', KEYS.all)).body.accepted?.state ?? 0)).toBeGreaterThan(0)
      expect((await apiGet(apiUrl, '/api/v1/ingest/stats', KEYS.all)).body.accepted?.state ?? 0).toBe(0)
    } finally {
      await stream.close()
    }
  }, 60_000)

  it('(e) the generated Mosquitto ACL keeps a gateway out of another factory, and its password file refuses a wrong secret', async () => {
    const [gwA] = gateways
    // MQTT 3.1.1 has no negative PUBACK: Mosquitto drops what its ACL refuses (and may close the
    // connection), so the attempts go over a connection of their own, and are not waited for long.
    const intruder = await connectGateway(mosquitto.url, 'gw-a', SECRETS.gwA)
    const attempts = Promise.all([
      intruder.publishAsync('iiot/v1/zb/fb/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'forged', doubleValue: 1, tsMs: T0 }] }), { qos: 1 }),
      intruder.publishAsync('iiot/v1/za/fa/_gateway/gw-b/connectivity', encode('connectivity', { seq: 1, tsMs: T0 }), { qos: 1 }),
    ])
    const outcome = await Promise.race([attempts.then(() => 'acknowledged', () => 'closed'), new Promise((r) => setTimeout(() => r('no answer'), 2000))])
    intruder.end(true)
    expect(['acknowledged', 'closed', 'no answer']).toContain(outcome)
    await gwA!.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'marker', doubleValue: 1, tsMs: T0 }] }), { qos: 1 })
    await eventually(async () => (await stored('marker')) === 1, 20_000, 200)
    await new Promise((r) => setTimeout(r, 500))
    expect(await stored('forged')).toBe(0)
    const rejected = await Promise.all(workerUrls.map(async (url) => (await apiGet(url, '/api/v1/ingest/rejections', KEYS.all)).body))
    expect(JSON.stringify(rejected)).not.toContain('gw-b/connectivity')
    await expect(connectGateway(mosquitto.url, 'gw-a', SECRETS.gwB)).rejects.toThrow(/Not authorized|Bad username/i)
  }, 60_000)
})
