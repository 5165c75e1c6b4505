import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { messageTypes } from '../../src/pipeline/proto-schema.js'
import { buildDemoRegistry } from '../../src/registry/demo-registry.js'
import { parseCredentials, planFleet } from '../../src/simulator/credentials.js'
import { startSimulation } from '../../src/simulator/runner.js'
import { createStats } from '../../src/simulator/stats.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'

/** `simulate --protocol mixed`: one factory's gateway speaks iiot/v1, the other's Sparkplug B; both end in the same API. */
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let apiKey: string

beforeAll(async () => {
  influxd = await startTestInfluxd()
  const demo = await buildDemoRegistry({ zones: 1, factoriesPerZone: 2, linesPerFactory: 1, machinesPerLine: 2 }, 'mqtt://127.0.0.1:1')
  apiKey = demo.apiKey
  svc = await startTestService(influxd.url, { registry: demo.doc })
  const plan = planFleet(parseCredentials(demo.credentials))
  const stats = createStats()
  const sim = startSimulation({ plan, url: svc.mqttUrl, qos: 1, protocol: 'mixed', rate: 5, samples: 4, seed: 7, types: messageTypes(), stats, log: () => undefined })
  try {
    // Until the Sparkplug factory's material movements (its Material/Movements DataSets) are stored too.
    await eventually(async () => stats.byKind.production >= 4 && stats.byKind.quality > 0 && stats.byKind.connectivity >= 2 && (await materialOf('z1-f2')).length > 0, 30_000, 200)
  } finally {
    await sim.stop()
  }
  await eventually(() => svc.journal.stats().unwrittenRecords === 0)
}, 60_000)

/** The stored movements of a factory: [movement, lot, work order] by time. */
const materialOf = async (factory: string) => ((await influxQuery(influxd.url, svc.database, `SELECT "movement", "lot", "work_order" FROM "material" WHERE "factory" = '${factory}'`))[0]?.values ?? []).map((v) => v.slice(1))

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

describe('simulator --protocol mixed', () => {
  it('the Sparkplug factory shows up like the iiot/v1 one: states, telemetry, counts; nothing rejected', async () => {
    for (const factory of ['z1-f1', 'z1-f2']) {
      const state = await apiGet(svc.httpUrl, `/api/v1/equipment/state?factory=${factory}`, apiKey)
      expect(state.body.machines.map((m: any) => m.reportedState ?? m.state).every((s: string) => typeof s === 'string'), factory).toBe(true)
      const latest = await apiGet(svc.httpUrl, `/api/v1/telemetry/latest?factory=${factory}&lookback=1h`, apiKey)
      expect(latest.body.count, factory).toBeGreaterThan(0)
    }
    // The Sparkplug gateway (the second) stopped cleanly with an NDEATH: its machines are offline.
    const f2 = await apiGet(svc.httpUrl, '/api/v1/equipment/state?factory=z1-f2', apiKey)
    expect(f2.body.machines.map((m: any) => m.reason)).toEqual(['sparkplug_ndeath', 'sparkplug_ndeath'])
    // Both factories' material movements: the Sparkplug one's as DataSets of its devices.
    for (const factory of ['z1-f1', 'z1-f2']) {
      const moves = await materialOf(factory)
      expect(moves.map((m) => m[0]), factory).toEqual(expect.arrayContaining(['received', 'loaded', 'consumed', 'produced']))
    }
    const made = (await materialOf('z1-f2')).find((m) => m[0] === 'produced')!
    const trace = await apiGet(svc.httpUrl, `/api/v1/materials/lots/${made[1]}/trace?direction=back&factory=z1-f2`, apiKey)
    expect(trace.body).toMatchObject({ found: true, tree: { lot: made[1], origins: [{ movement: 'produced', factory: 'z1-f2', workOrder: made[2] }] } })
    expect(trace.body.tree.children.length).toBeGreaterThan(0)
    // The edge node's modem metrics are the gateway's link report, as an iiot/v1 gateway sends it.
    const link = await influxQuery(influxd.url, svc.database, `SELECT "access", "rsrp_dbm" FROM "connectivity" WHERE "factory" = 'z1-f2'`)
    expect(link[0]?.values.length ?? 0).toBeGreaterThan(0)
    expect(link[0]!.values[0]![1]).toBe('5g-nsa')
    const rejections = await apiGet(svc.httpUrl, '/api/v1/ingest/rejections', apiKey)
    expect(rejections.body.rejections.map((r: any) => `${r.reason}: ${r.message}`)).toEqual([])
  })
})
