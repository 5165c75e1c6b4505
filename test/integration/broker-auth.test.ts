import { readFile, writeFile } from 'node:fs/promises'
import { connect, connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runRegistryCommand } from '../../src/cli/registry-commands.js'
import { FAST, KEYS, SECRETS, hashSecret } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
})

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

/** Resolves with the CONNACK return code of a connection attempt (0 = accepted). */
async function connackCode(opts: { username?: string; password?: string; clientId?: string; clean?: boolean }): Promise<number> {
  try {
    const c = await connectAsync(svc.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, clientId: 'probe', ...opts })
    await c.endAsync()
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}

describe('gateway authentication', () => {
  it('accepts the right secret', async () => {
    expect(await connackCode({ username: 'gw-a', password: SECRETS.gwA })).toBe(0)
  })

  it('refuses a wrong secret, an unknown gateway and missing credentials with "not authorized" (5)', async () => {
    expect(await connackCode({ username: 'gw-a', password: 'wrong' })).toBe(5)
    expect(await connackCode({ username: 'gw-x', password: SECRETS.gwA })).toBe(5)
    expect(await connackCode({ username: 'gw-b', password: SECRETS.gwA })).toBe(5)
    expect(await connackCode({})).toBe(5)
  })

  it('refuses an empty client id with "identifier rejected" (2)', async () => {
    expect(await connackCode({ username: 'gw-a', password: SECRETS.gwA, clientId: '', clean: true })).toBe(2)
  })
})

describe('topic ACL', () => {
  let gw: MqttClient
  beforeAll(async () => {
    gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  })
  afterAll(async () => {
    await gw?.endAsync(true)
  })

  it('refuses a subscription outside the gateway\'s factory with SUBACK 0x80, and grants its own', async () => {
    // mqtt.js turns any 0x80 into an error carrying the SUBACK packet.
    const suback = await gw.subscribeAsync(['iiot/v1/zb/fb/#', '#', 'iiot/v1/za/fa/#'], { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted: number[] } }) => err.packet,
    )
    expect(suback?.granted).toEqual([128, 128, 1])
    expect(gw.connected).toBe(true)
  })

  it('closes the connection of a gateway publishing into another factory and stores nothing', async () => {
    const intruder = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    const closed = new Promise<void>((resolve) => intruder.once('close', () => resolve()))
    intruder.publish('iiot/v1/zb/fb/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'intrusion', doubleValue: 1, tsMs: Date.now() }] }), { qos: 1 })
    await closed
    intruder.end(true)
    // A later, legitimate message is stored; the refused one never is.
    await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 2, samples: [{ signal: 'legit', doubleValue: 1, tsMs: Date.now() }] }))
    await eventually(async () => (await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE signal = 'legit'`)).length > 0)
    expect(await influxQuery(influxd.url, svc.database, `SELECT * FROM telemetry WHERE signal = 'intrusion'`)).toEqual([])
    const refused = await svc.metrics.refused.get()
    expect(refused.values.find((v) => v.labels.operation === 'publish')?.value).toBeGreaterThanOrEqual(1)
  })

  it('may not publish gateway-level data under another gateway\'s id', async () => {
    const other = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    const closed = new Promise<void>((resolve) => other.once('close', () => resolve()))
    other.publish('iiot/v1/za/fa/_gateway/gw-z/connectivity', Buffer.from([1]), { qos: 1 })
    await closed
    other.end(true)
  })
})

describe('registry reload', () => {
  it('adds a gateway without a restart, and existing connections stay up', async () => {
    const existing = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    expect(await connackCode({ username: 'gw-new', password: 'new-secret-123456' })).toBe(5)

    const doc = JSON.parse(await readFile(svc.registryFile, 'utf8'))
    doc.gateways.push({ id: 'gw-new', factory: 'fa', secretHash: await hashSecret('new-secret-123456', FAST) })
    await writeFile(svc.registryFile, JSON.stringify(doc))

    // The file watcher picks it up.
    await eventually(async () => (await connackCode({ username: 'gw-new', password: 'new-secret-123456' })) === 0)
    expect(existing.connected).toBe(true)
    await publish(existing, 'iiot/v1/za/fa/l1/m2/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'after-reload', doubleValue: 3, tsMs: Date.now() }] }))
    await existing.endAsync()
  })

  it('disconnects a gateway the reloaded registry removed or gave a new secret; the others stay connected', async () => {
    const before = await readFile(svc.registryFile, 'utf8')
    const doc = JSON.parse(before)
    doc.gateways.push({ id: 'gw-gone', factory: 'fa', secretHash: await hashSecret('gone-secret-123456', FAST) }, { id: 'gw-rotated', factory: 'fa', secretHash: await hashSecret('old-secret-123456', FAST) })
    await writeFile(svc.registryFile, JSON.stringify(doc))
    expect(await svc.registry.reload()).toBe(true)
    const gone = await connectGateway(svc.mqttUrl, 'gw-gone', 'gone-secret-123456')
    const rotated = await connectGateway(svc.mqttUrl, 'gw-rotated', 'old-secret-123456')
    const kept = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    for (const c of [gone, rotated]) c.options.reconnectPeriod = 0
    const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()))
    const closing = Promise.all([closed(gone), closed(rotated)])

    doc.gateways = doc.gateways.filter((g: { id: string }) => g.id !== 'gw-gone')
    doc.gateways.find((g: { id: string }) => g.id === 'gw-rotated').secretHash = await hashSecret('new-secret-654321', FAST)
    await writeFile(svc.registryFile, JSON.stringify(doc))
    expect(await svc.registry.reload()).toBe(true)
    await closing
    expect(kept.connected).toBe(true)
    expect(await connackCode({ username: 'gw-rotated', password: 'old-secret-123456' })).toBe(5)
    expect(await connackCode({ username: 'gw-rotated', password: 'new-secret-654321' })).toBe(0)
    const refused = (await svc.metrics.refused.get()).values.filter((v) => v.labels.operation === 'connect').map((v) => v.labels.reason)
    expect(refused).toEqual(expect.arrayContaining(['gateway_removed', 'secret_changed']))
    await Promise.all([gone.endAsync(true), rotated.endAsync(true), kept.endAsync()])
    await writeFile(svc.registryFile, before)
    expect(await svc.registry.reload()).toBe(true)
  })

  it('rotate-gateway-secret and rotate-key: from the reload the old secret is refused and its connection closed, the new one works; a Sparkplug gateway stays its edge node', async () => {
    const before = await readFile(svc.registryFile, 'utf8')
    const doc = JSON.parse(before)
    doc.gateways.push({ id: 'gw-edge', factory: 'fa', secretHash: await hashSecret('edge-old-secret-123456', FAST) })
    doc.sparkplug = { groups: [{ id: 'plant-r', factory: 'fa', edgeNodes: [{ id: 'edge-r', gateway: 'gw-edge' }] }] }
    await writeFile(svc.registryFile, JSON.stringify(doc))
    expect(await svc.registry.reload()).toBe(true)
    const edge = await connectGateway(svc.mqttUrl, 'gw-edge', 'edge-old-secret-123456')
    const closed = new Promise<void>((resolve) => edge.once('close', () => resolve()))
    const kept = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    expect((await apiGet(svc.httpUrl, '/api/v1/hierarchy', KEYS.factoryA)).status).toBe(200)

    const said: string[] = []
    await runRegistryCommand(['rotate-gateway-secret', '--id', 'gw-edge', '--file', svc.registryFile], {}, (l) => said.push(l))
    await runRegistryCommand(['rotate-key', '--id', 'eng-a', '--file', svc.registryFile], {}, (l) => said.push(l))
    const secret = /password \(shown once\): (\S+)$/.exec(said[0]!)![1]!
    const key = /Authorization: Bearer (\S+)$/.exec(said[1]!)![1]!
    expect(await svc.registry.reload()).toBe(true)

    await closed
    expect(kept.connected).toBe(true)
    expect(await connackCode({ username: 'gw-edge', password: 'edge-old-secret-123456' })).toBe(5)
    const fresh = await connectGateway(svc.mqttUrl, 'gw-edge', secret)
    // Its edge node's commands are still its own to read; another gateway's subscription gets 0x80.
    expect((await fresh.subscribeAsync('spBv1.0/plant-r/NCMD/edge-r', { qos: 0 })).map((g) => g.qos)).toEqual([0])
    await expect(kept.subscribeAsync('spBv1.0/plant-r/NCMD/edge-r', { qos: 0 })).rejects.toThrow(/Subscribe error/)
    expect((await apiGet(svc.httpUrl, '/api/v1/hierarchy', KEYS.factoryA)).status).toBe(401)
    expect((await apiGet(svc.httpUrl, '/api/v1/hierarchy', key)).status).toBe(200)
    expect((await apiGet(svc.httpUrl, '/api/v1/hierarchy', KEYS.all)).status).toBe(200)
    await Promise.all([edge.endAsync(true), fresh.endAsync(), kept.endAsync()])
    await writeFile(svc.registryFile, before)
    expect(await svc.registry.reload()).toBe(true)
  })

  it('keeps the previous registry when the new file is invalid', async () => {
    const before = await readFile(svc.registryFile, 'utf8')
    await writeFile(svc.registryFile, '{"zones": [{"id": "Not A Slug"}]}')
    expect(await svc.registry.reload()).toBe(false)
    expect(await connackCode({ username: 'gw-a', password: SECRETS.gwA })).toBe(0)
    await writeFile(svc.registryFile, before)
    expect(await svc.registry.reload()).toBe(true)
  })
})

describe('failed secret checks per address', () => {
  let limited: TestService
  beforeAll(async () => {
    limited = await startTestService(influxd.url, { env: { MQTT_AUTH_FAILURES_PER_MIN: '3', MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT: '3', MQTT_MAX_QUEUED_PER_SESSION: '3' } })
  })
  afterAll(async () => {
    await limited?.dispose()
  })
  const code = async (username: string, password: string) => {
    try {
      const c = await connectAsync(limited.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, clientId: `probe-${username}`, username, password })
      await c.endAsync()
      return 0
    } catch (err) {
      return (err as { code?: number }).code ?? -1
    }
  }

  it('a connection holds at most MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT filters: the rest get SUBACK 0x80, a filter it holds may be renewed', async () => {
    const gw = await connectGateway(limited.mqttUrl, 'gw-a', SECRETS.gwA)
    const granted = (filters: string[]) =>
      gw.subscribeAsync(filters, { qos: 1 }).then(
        (subs) => subs.map((g) => g.qos),
        (err: { packet?: { granted: number[] } }) => err.packet?.granted,
      )
    expect(await granted(['iiot/v1/za/fa/l1/m1/#', 'iiot/v1/za/fa/l1/m2/#', 'iiot/v1/za/fa/l1/m2/state', 'iiot/v1/za/fa/#', 'iiot/v1/za/fa/l1/#'])).toEqual([1, 1, 1, 128, 128])
    expect(await granted(['iiot/v1/za/fa/l1/+/telemetry'])).toEqual([128])
    expect(await granted(['iiot/v1/za/fa/l1/m1/#'])).toEqual([1])
    expect(gw.connected).toBe(true)
    await gw.endAsync()
    expect((await limited.metrics.limits.get()).values.find((v) => v.labels.limit === 'subscriptions')?.value).toBe(3)
  })

  it('a session left with clean: false queues at most MQTT_MAX_QUEUED_PER_SESSION messages; the rest are counted, not kept', async () => {
    const opts = { clientId: 'gw-a-persistent', clean: false }
    const sub = await connectGateway(limited.mqttUrl, 'gw-a', SECRETS.gwA, opts)
    await sub.subscribeAsync('iiot/v1/za/fa/l1/m1/state', { qos: 1 })
    await sub.endAsync()
    const pub = await connectGateway(limited.mqttUrl, 'gw-a', SECRETS.gwA)
    for (let i = 1; i <= 5; i++) await publish(pub, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq: i, changes: [{ state: 1, tsMs: Date.now() }] }))
    await pub.endAsync()
    const seqs: number[] = []
    // Listening before the CONNACK: the queued messages follow it at once.
    const back = connect(limited.mqttUrl, { ...opts, username: 'gw-a', password: SECRETS.gwA, reconnectPeriod: 0, protocolVersion: 4 })
    back.on('message', () => seqs.push(seqs.length + 1))
    await eventually(() => seqs.length >= 3)
    await new Promise((r) => setTimeout(r, 300))
    expect(seqs).toHaveLength(3)
    await back.endAsync()
    expect((await limited.metrics.limits.get()).values.find((v) => v.labels.limit === 'session_queue')?.value).toBe(2)
  })

  it('past MQTT_AUTH_FAILURES_PER_MIN an address gets "server unavailable" (3) without a check; a secret already proven still gets in', async () => {
    expect(await code('gw-a', SECRETS.gwA)).toBe(0)
    for (let i = 0; i < 3; i++) expect(await code('gw-a', `wrong-${i}`)).toBe(5)
    expect(await code('gw-a', 'wrong-again')).toBe(3)
    expect(await code('gw-x', 'unknown-gateway')).toBe(3)
    // gw-a's secret passed a full check before: no scrypt needed, so it is let in.
    expect(await code('gw-a', SECRETS.gwA)).toBe(0)
    // gw-b's never did: it waits out the window like the guesser.
    expect(await code('gw-b', SECRETS.gwB)).toBe(3)
    const limits = (await limited.metrics.limits.get()).values.find((v) => v.labels.limit === 'auth_failures_address')
    expect(limits?.value).toBeGreaterThanOrEqual(3)
  })
})
