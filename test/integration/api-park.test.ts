import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'

// GET /api/v1/park/overview (docs/api.md, "Park overview"): fa (zone za) is a pilot on 5G SA;
// fb (zone zb) reports over LTE and sends state but no production, so it is no pilot.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gwA: MqttClient
let gwB: MqttClient
const YEAR = new Date().getUTCFullYear()
const t = Date.now() - 60 * 60_000

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  gwA = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  gwB = await connectGateway(svc.mqttUrl, 'gw-b', SECRETS.gwB)
  await publish(gwA, 'iiot/v1/za/fa/_gateway/gw-a/connectivity', encode('connectivity', { seq: 1, reports: [-80, -90, -100].map((rsrp, i) => ({ access: 1, rsrpDbm: rsrp, sinrDb: 20 + i, rttMs: 8, tsMs: t + i * 1000 })) }))
  await publish(gwB, 'iiot/v1/zb/fb/_gateway/gw-b/connectivity', encode('connectivity', { seq: 1, reports: [{ access: 3, rsrpDbm: -105, tsMs: t }] }))
  await publish(gwA, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq: 1, changes: [{ state: 1, tsMs: t }] }))
  await publish(gwA, 'iiot/v1/za/fa/l1/m1/production', encode('production', { seq: 1, reports: [{ mode: 1, good: 40, reject: 2, tsMs: t + 60_000 }] }))
  await publish(gwA, 'iiot/v1/za/fa/l1/m2/production', encode('production', { seq: 1, reports: [{ mode: 1, good: 10, reject: 0, tsMs: t + 60_000 }] }))
  await publish(gwB, 'iiot/v1/zb/fb/l1/m1/state', encode('state', { seq: 1, changes: [{ state: 2, tsMs: t }] }))
  await eventually(() => svc.journal.stats().unwrittenRecords === 0)
  await eventually(async () => (await apiGet(svc.httpUrl, '/api/v1/connectivity/report', KEYS.all)).body.zones.every((z: any) => z.gatewaysReporting === 1))
})

afterAll(async () => {
  await gwA?.endAsync()
  await gwB?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

describe('park overview', () => {
  it('gives per zone the factories connected by access, the pilots, production, and the plan\'s targets beside the measured figures', async () => {
    const { status, body } = await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}`, KEYS.all)
    expect(status).toBe(200)
    expect(body.start).toBe(`${YEAR}-01-01T00:00:00.000Z`)
    const [za, zb] = body.zones
    expect(za).toMatchObject({ zone: 'za', factoriesRegistered: 1, factoriesConnected: 1, gatewaysConnected: 1, factoriesOn5g: 1, no5g: false, pilots: ['fa'], production: { good: 50, reject: 2, total: 52 } })
    expect(za.byAccess).toEqual({ '5g-sa': 1, '5g-nsa': 0, lte: 0, wifi: 0, wired: 0 })
    expect(za.factories[0]).toMatchObject({ factory: 'fa', gateways: ['gw-a'], access: ['5g-sa'], on5g: true, publishesState: true, publishesProduction: true, pilot: true })
    expect(zb).toMatchObject({ zone: 'zb', factoriesOn5g: 0, no5g: true, pilots: [], production: { good: 0, reject: 0, total: 0 } })
    expect(zb.factories[0]).toMatchObject({ factory: 'fb', access: ['lte'], publishesState: true, publishesProduction: false, pilot: false })
    expect(za.links[0].metrics.rsrp_dbm.p50).toBe(-90)
    expect(body.zonesWithout5g).toEqual(['zb'])
    expect(body.targets).toEqual({ zonesWith5g: { target: 2, measured: 1, met: false }, pilots: { target: 2, measured: 1, met: false } })
  })

  it('agrees with the connectivity report on every figure they share', async () => {
    const park = (await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}`, KEYS.all)).body
    const conn = (await apiGet(svc.httpUrl, `/api/v1/connectivity/report?year=${YEAR}`, KEYS.all)).body
    expect(park.zonesWithout5g).toEqual(conn.zonesWithout5g)
    for (const [i, z] of park.zones.entries()) {
      const c = conn.zones[i]
      expect([z.zone, z.factoriesRegistered, z.factoriesConnected, z.gatewaysConnected, z.factoriesOn5g, z.no5g]).toEqual([c.zone, c.factoriesRegistered, c.factoriesReporting, c.gatewaysReporting, c.factoriesOn5g, c.no5g])
      expect(z.byAccess).toEqual(Object.fromEntries(Object.entries(c.byAccess).map(([k, v]: [string, any]) => [k, v.factories])))
      expect(z.links).toEqual(c.links)
    }
  })

  it('is reproducible for a past year (nothing then), gives CSV, and keeps a factory key to its factory', async () => {
    const past = (await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR - 1}`, KEYS.all)).body
    expect(past.zones.map((z: any) => [z.factoriesConnected, z.pilots.length, z.no5g])).toEqual([[0, 0, true], [0, 0, true]])
    expect(past.targets.pilots).toEqual({ target: 2, measured: 0, met: false })
    const csv = await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}&format=csv`, KEYS.all)
    expect(csv.type).toMatch(/^text\/csv/)
    expect(csv.text.trim().split('\n')).toEqual([
      'zone,factory,gateways,access,on_5g,publishes_state,publishes_production,pilot,good,reject,total',
      'za,fa,gw-a,5g-sa,true,true,true,true,50,2,52',
      'zb,fb,gw-b,lte,false,true,false,false,0,0,0',
    ])
    const own = (await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}`, KEYS.factoryA)).body
    expect(own.zones.map((z: any) => z.factories.map((f: any) => f.factory))).toEqual([['fa']])
    expect((await apiGet(svc.httpUrl, `/api/v1/park/overview?zone=zb`, KEYS.factoryA)).status).toBe(403)
    expect((await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}&start=${new Date(t).toISOString()}`, KEYS.all)).status).toBe(400)
  })
})
