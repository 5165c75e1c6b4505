import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoadGenerator } from '../../bench/lib/load-generator.js'
import { verifyStored } from '../../bench/lib/verify-stored.js'
import { processExists } from '../../bench/lib/service-process.js'
import { KEYS, LOAD_GATEWAYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, publish } from '../helpers/gateway.js'
import { influxQuery } from '../helpers/influxd.js'
import { portIsFree } from '../helpers/ports.js'
import { eventually } from '../helpers/service.js'
import { startChildService, type ChildService } from '../helpers/service-child.js'

// The service is killed with SIGKILL in the middle of a QoS 1 load and started again:
// every acknowledged message is stored, unacknowledged ones are resent by the gateways,
// and nothing is stored twice as distinct points.
let child: ChildService
let influxd: ChildService['influxd']
let service: ChildService['service']
let env: ChildService['env']
let httpUrl: string

beforeAll(async () => {
  child = await startChildService('crash')
  ;({ influxd, service, env, httpUrl } = child)
})

afterAll(async () => {
  await child?.dispose()
})

async function unwritten(): Promise<number> {
  const res = await fetch(`${httpUrl}/api/v1/ingest/stats`, { headers: { authorization: `Bearer ${KEYS.all}` } })
  return ((await res.json()) as { journal: { unwrittenRecords: number } }).journal.unwrittenRecords
}

describe('crash', () => {
  it('loses nothing acknowledged across SIGKILL and restart', async () => {
    const gen = new LoadGenerator({ url: `mqtt://127.0.0.1:${env.MQTT_PORT}`, gateways: LOAD_GATEWAYS, messagesPerSecond: 400, samplesPerMessage: 4, qos: 1, maxInflight: 50 })
    await gen.connect()
    gen.start()
    await new Promise((r) => setTimeout(r, 2000))
    // InfluxDB goes down first, so acknowledged messages pile up in the journal only...
    await influxd.stop()
    await new Promise((r) => setTimeout(r, 2000))
    const heldInJournal = await unwritten()
    expect(heldInJournal).toBeGreaterThan(300)
    // Bad messages too, acknowledged while nothing can be written: with the drainer's requests all
    // retrying, what is journaled after them is acknowledged but not yet decoded when the process dies.
    const bad = await connectGateway(`mqtt://127.0.0.1:${env.MQTT_PORT}`, 'gw-a', SECRETS.gwA)
    for (let n = 0; n < 30; n++) await publish(bad, 'iiot/v1/za/fa/l1/m1/telemetry', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, n]))
    bad.end(true)
    // ...then the process dies without any shutdown code running: the process that owns the
    // journal and the ports, not a wrapper around it.
    const killedPid = service.pid!
    await service.kill()
    expect(processExists(killedPid)).toBe(false)
    expect(await portIsFree(Number(env.MQTT_PORT))).toBe(true)
    expect(await portIsFree(Number(env.HTTP_PORT))).toBe(true)
    const ackedAtKill = gen.stats().acked
    await influxd.restart()
    await new Promise((r) => setTimeout(r, 500))
    await service.start()
    expect(service.pid).not.toBe(killedPid)
    await new Promise((r) => setTimeout(r, 3000))
    await gen.stop()
    expect(gen.stats().inflight).toBe(0)
    expect(gen.stats().acked).toBeGreaterThan(ackedAtKill + 200)
    await eventually(async () => (await unwritten()) === 0, 30_000)
    const result = await verifyStored(gen, (q) => influxQuery(influxd.url, 'crash', q), 4)
    await gen.disconnect()
    expect(result.acked).toBeGreaterThan(1500)
    expect(result.lost).toBe(0)
    expect(result.duplicates).toBe(0)
    expect(result.pointsStored).toBe(result.stored * 4)
    // Every bad message ends as exactly one rejection, whether it was decoded before the crash or after.
    const res = await fetch(`${httpUrl}/api/v1/ingest/rejections?limit=500`, { headers: { authorization: `Bearer ${KEYS.all}` } })
    const { rejections } = (await res.json()) as { rejections: { reason: string; payloadBase64: string }[] }
    const lastBytes = rejections.filter((r) => r.reason === 'decode_error').map((r) => Buffer.from(r.payloadBase64, 'base64').at(-1)!)
    expect(lastBytes.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n))
    // ...and the restarted process decoded some of them from the journal: acknowledged before the crash, decoded after it.
    const stats = (await (await fetch(`${httpUrl}/api/v1/ingest/stats`, { headers: { authorization: `Bearer ${KEYS.all}` } })).json()) as { rejected: Record<string, number> }
    expect(stats.rejected.decode_error ?? 0).toBeGreaterThan(0)
  }, 90_000)
})
