import type { MqttClient } from 'mqtt'
import { newClient, type UPayload } from 'sparkplug-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'

type EdgeNode = ReturnType<typeof newClient>

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let edge: EdgeNode | undefined
let watcher: MqttClient | undefined
const stateMessages: string[] = []
const ncmds: UPayload[] = []
let births = 0

const get = (path: string) => apiGet(svc.httpUrl, path, KEYS.all)
const drained = () => eventually(() => svc.journal.stats().unwrittenRecords === 0 && svc.drainer.lastWriteAt !== undefined)
const stateOf = async (machine: string) => ((await get('/api/v1/equipment/state?factory=fa')).body.machines as any[]).find((m) => m.machine === machine)

function publishBirths(e: EdgeNode): void {
  births++
  e.publishNodeBirth({ timestamp: Date.now(), metrics: [{ name: 'Status/Mode', type: 'Int32', value: 1 }, { name: 'Node Control/Rebirth', type: 'Boolean', value: false }] })
  e.publishDeviceBirth('press-1', {
    timestamp: Date.now(),
    metrics: [
      { name: 'Status/Mode', type: 'Int32', value: 1 },
      { name: 'Counts/Good', type: 'UInt64', value: 100 },
      { name: 'Quality/Bore', type: 'Double', value: 10 },
      { name: 'Spindle', alias: 7, type: 'Double', value: 1.25, properties: { engUnit: { type: 'String', value: 'krpm' } } },
    ],
  })
}

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { registry: await sparkplugRegistry(), env: { SPARKPLUG_REBIRTH_MIN_INTERVAL_MS: '0', DECODE_WORKERS: '1' } })
  watcher = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  watcher.on('message', (topic, payload) => {
    if (topic === 'spBv1.0/STATE/iiot-ingest') stateMessages.push(payload.toString())
  })
  await watcher.subscribeAsync('spBv1.0/STATE/iiot-ingest', { qos: 1 })
  edge = newClient({ serverUrl: svc.mqttUrl, username: 'gw-a', password: SECRETS.gwA, groupId: 'plant-a', edgeNode: 'edge-1', clientId: 'edge-1', publishDeath: true, version: 'spBv1.0', mqttOptions: { reconnectPeriod: 200 } })
  edge.on('birth', () => publishBirths(edge!))
  edge.on('ncmd', (p) => {
    ncmds.push(p)
    if (p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) publishBirths(edge!)
  })
  await eventually(() => births > 0)
  await drained()
})

afterAll(async () => {
  edge?.stop()
  await watcher?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

describe('a real Sparkplug edge node (Eclipse Tahu sparkplug-client)', () => {
  it('the host STATE is retained online for subscribers', async () => {
    await eventually(() => stateMessages.length > 0)
    expect(JSON.parse(stateMessages[0]!)).toMatchObject({ online: true, timestamp: expect.any(Number) })
  })

  it('birth and data: values and timestamps read back exactly through the API, counters become counts, the state metric the state', async () => {
    const T = Date.now() + 1
    edge!.publishDeviceData('press-1', { timestamp: T, metrics: [{ name: 'Spindle', alias: 7, type: 'Double', value: 2.5 } as never, { name: 'Counts/Good', type: 'UInt64', value: 105 }] })
    edge!.publishDeviceData('press-1', { timestamp: T, metrics: [{ name: 'Status/Mode', type: 'Int32', value: 3 }] })
    await drained()
    const latest = await eventually(async () => {
      const r = await get('/api/v1/telemetry/latest?factory=fa&signal=Spindle&lookback=1h')
      return r.body.values?.[0]?.time === new Date(T).toISOString() ? r.body.values[0] : undefined
    })
    expect(latest).toMatchObject({ machine: 'm1', signal: 'Spindle', value: 2.5, unit: 'krpm', stale: false })
    expect(await stateOf('m1')).toMatchObject({ state: 'fault', reason: 'E-STOP' })
    const counts = await get(`/api/v1/production/counts?factory=fa&line=l1&machine=m1&start=${new Date(T - 60_000).toISOString()}&end=${new Date(T + 60_000).toISOString()}`)
    expect(counts.body, JSON.stringify(counts.body)).toMatchObject({ totals: { good: 5 } })
  })

  it('an inspection metric named by the mapping reaches SPC like an iiot/v1 inspection', async () => {
    const t = Date.now()
    for (const [i, v] of [10.0, 10.05, 9.95, 10.12].entries()) edge!.publishDeviceData('press-1', { timestamp: t + i, metrics: [{ name: 'Quality/Bore', type: 'Double', value: v }] })
    await drained()
    const window = `start=${new Date(t).toISOString()}&end=${new Date(t + 1000).toISOString()}`
    const insp = await eventually(async () => {
      const r = await get(`/api/v1/quality/inspections?factory=fa&line=l1&machine=m1&characteristic=bore-diameter&${window}`)
      if (r.body.count !== 4) throw new Error(JSON.stringify(r.body).slice(0, 600))
      return r.body.inspections
    })
    expect(insp.map((i: any) => [i.value, i.pass])).toEqual([[10.12, false], [9.95, true], [10.05, true], [10, true]])
    const spc = await get(`/api/v1/quality/spc?factory=fa&line=l1&machine=m1&characteristic=bore-diameter&${window}`)
    expect(spc.status, JSON.stringify(spc.body)).toBe(200)
  })

  it('device death: its machine is offline from the DDEATH time', async () => {
    const t = Date.now() + 2
    edge!.publishDeviceDeath('press-1', { timestamp: t, metrics: [] })
    await drained()
    expect(await eventually(async () => ((await stateOf('m1'))?.state === 'offline' ? stateOf('m1') : undefined))).toMatchObject({ state: 'offline', reason: 'sparkplug_ddeath', since: new Date(t).toISOString(), online: false })
    // Sparkplug 3.0: a dead device's metrics are stale; the API says so of its last values.
    const latest = (await get('/api/v1/telemetry/latest?factory=fa&line=l1&machine=m1&lookback=1h')).body.values as any[]
    expect(latest.length).toBeGreaterThan(0)
    expect(latest.map((v) => v.stale)).toEqual(latest.map(() => true))
  })

  it('an unknown alias is a rejection and makes the host send a rebirth request, which the node answers', async () => {
    const before = births
    edge!.publishNodeData({ timestamp: Date.now(), metrics: [{ alias: 4242, type: 'Double', value: 1 } as never] })
    await eventually(() => ncmds.length > 0, 10_000)
    expect(ncmds[0]!.metrics?.[0]).toMatchObject({ name: 'Node Control/Rebirth', value: true })
    await eventually(() => births > before)
    await drained()
    const rej = await get('/api/v1/ingest/rejections?reason=unknown_alias')
    expect(rej.body.rejections[0]).toMatchObject({ gateway: 'gw-a', topic: 'spBv1.0/plant-a/NDATA/edge-1' })
    // The device was born again with the node: back in the state its birth says.
    expect(await eventually(async () => ((await stateOf('m1'))?.state === 'running' ? true : undefined))).toBe(true)
  })

  it('node death (its socket killed): the will NDEATH makes every machine of the node offline; the reconnect births bring them back', async () => {
    const before = births
    const client = (edge as unknown as { client: { stream: { destroy(): void } } }).client
    client.stream.destroy()
    await eventually(async () => ((await stateOf('m2'))?.state === 'offline' ? true : undefined))
    expect(await stateOf('m2')).toMatchObject({ reason: 'sparkplug_ndeath' })
    await eventually(() => births > before, 10_000)
    await drained()
    await eventually(async () => ((await stateOf('m2'))?.state === 'running' && (await stateOf('m1'))?.state === 'running' ? true : undefined))
  })

  it('an operator asks for a rebirth through the API: scoped like every call, and the node answers', async () => {
    const post = (path: string, key: string | null) => fetch(svc.httpUrl + path, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} })
    const before = births
    const res = await post('/api/v1/sparkplug/plant-a/edge-1/rebirth', KEYS.factoryA)
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ group: 'plant-a', edgeNode: 'edge-1', sent: true })
    await eventually(() => births > before, 10_000)
    expect((await post('/api/v1/sparkplug/plant-a/edge-1/rebirth', KEYS.zone)).status).toBe(403)
    expect((await post('/api/v1/sparkplug/plant-a/edge-9/rebirth', KEYS.all)).status).toBe(404)
    expect((await post('/api/v1/sparkplug/plant-a/edge-1/rebirth', null)).status).toBe(401)
  })

  it('a graceful shutdown publishes STATE online: false with the online timestamp', async () => {
    const online = JSON.parse(stateMessages[0]!) as { timestamp: number }
    await svc.close()
    await eventually(() => stateMessages.some((m) => JSON.parse(m).online === false))
    expect(JSON.parse(stateMessages.find((m) => JSON.parse(m).online === false)!)).toEqual({ online: false, timestamp: online.timestamp })
  })
})
