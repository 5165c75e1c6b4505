import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { processExists } from '../../bench/lib/service-process.js'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { influxQuery } from '../helpers/influxd.js'
import { eventually } from '../helpers/service.js'
import { startChildService, type ChildService } from '../helpers/service-child.js'

// Log first (docs/delivery.md): a message is acknowledged once journaled, and decoded later. The
// service is killed after acknowledging a run of messages and before decoding most of them; the
// next process decodes each of them once and stores each once.
let child: ChildService
beforeAll(async () => {
  // One small request at a time: while InfluxDB is away, the drainer reads (and decodes) only the
  // first few messages and waits; the rest are acknowledged and not decoded.
  child = await startChildService('decodecrash', { LOG_LEVEL: 'error', WRITE_MAX_IN_FLIGHT: '1', WRITE_BATCH_SIZE: '10', DECODE_WORKERS: '1' })
})

afterAll(async () => {
  await child?.dispose()
})

async function stats(): Promise<{ accepted: Record<string, number>; journal: { unwrittenRecords: number } }> {
  const res = await fetch(`${child.httpUrl}/api/v1/ingest/stats`, { headers: { authorization: `Bearer ${KEYS.all}` } })
  return (await res.json()) as { accepted: Record<string, number>; journal: { unwrittenRecords: number } }
}

const N = 300

describe('crash between the acknowledgement and the decode', () => {
  it('every acknowledged message is decoded and stored after the restart, once', async () => {
    const { influxd, service } = child
    await influxd.stop()
    const gw = await connectGateway(`mqtt://127.0.0.1:${child.env.MQTT_PORT}`, 'gw-a', SECRETS.gwA)
    const t0 = Date.now() - 60_000
    // Each publish resolves on its PUBACK: all N are durable in the journal before the kill.
    for (let seq = 0; seq < N; seq++) {
      await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq, samples: [{ signal: 'crash_probe', doubleValue: seq, tsMs: t0 + seq }] }))
    }
    gw.end(true)
    const decodedBeforeKill = (await stats()).accepted.telemetry ?? 0
    expect(decodedBeforeKill).toBeLessThan(N / 2)
    const killedPid = service.pid!
    await service.kill()
    expect(processExists(killedPid)).toBe(false)

    await influxd.restart()
    await service.start()
    expect(service.pid).not.toBe(killedPid)
    await eventually(async () => (await stats()).journal.unwrittenRecords === 0, 30_000)
    // Nothing was written before the crash, so the new process decodes all of them: each once.
    expect((await stats()).accepted.telemetry).toBe(N)
    const rows = await influxQuery(influxd.url, 'decodecrash', `SELECT count("value") AS n, sum("value") AS s FROM "telemetry" WHERE "signal" = 'crash_probe'`)
    expect(rows[0]!.values[0]!.slice(1)).toEqual([N, (N * (N - 1)) / 2])
  }, 90_000)
})
