import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { byLabel } from '../../src/metrics/metrics.js'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'
import { openSseStream, type SseStream } from '../helpers/sse.js'

// Regression: a listener of accepted messages (the live hub feeding the SSE stream) that threw
// closed the publishing gateway's connection before its message was journaled, so the gateway
// resent it and was disconnected again, for as long as a stream client was connected.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient
let stream: SseStream | undefined

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
})

afterAll(async () => {
  await stream?.close()
  // A connection the broker closed is not ended gracefully: force it.
  await gw?.endAsync(!gw.connected)
  await svc?.dispose()
  await influxd?.dispose()
})

const openStream = (path: string, key: string) => openSseStream(svc.httpUrl, path, key)

describe('accepted-message listeners', () => {
  it('a listener that throws does not close the gateway\'s connection; the message is stored exactly once and the error counted', async () => {
    stream = await openStream('/api/v1/stream?kinds=telemetry', KEYS.all)
    const stopThrowing = svc.ingestor.onAccepted(() => {
      throw new Error('listener bug')
    }, 'test-broken')
    let closed = false
    gw.on('close', () => (closed = true))

    const T = 'iiot/v1/za/fa/l1/m1/telemetry'
    const payload = encode('telemetry', { seq: 1, samples: [{ signal: 'poison.probe', doubleValue: 1, tsMs: Date.now() - 1000 }] })
    const acked = gw.publishAsync(T, payload, { qos: 1 })
    const gone = new Promise<never>((_, reject) => gw.once('close', () => reject(new Error('the broker closed the gateway\'s connection'))))
    gone.catch(() => undefined) // the teardown's close must not be an unhandled rejection
    await Promise.race([acked, gone])
    // A later message on the same connection goes through too.
    await Promise.race([gw.publishAsync(T, encode('telemetry', { seq: 2, samples: [{ signal: 'after.probe', doubleValue: 2, tsMs: Date.now() - 1000 }] }), { qos: 1 }), gone])
    expect(closed).toBe(false)
    expect(gw.connected).toBe(true)
    // The stream client, a listener beside the broken one, still got both events (decoded from the
    // journal after their acknowledgements: the broken listener stays until both have been seen).
    await eventually(() => stream!.events.length >= 2)
    stopThrowing()
    expect(stream.events.map((e) => e.data.message.samples[0].signal)).toEqual(['poison.probe', 'after.probe'])
    expect(await byLabel(svc.metrics.listenerErrors, 'listener')).toEqual({ 'test-broken': 2 })

    await eventually(async () => {
      const s = await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE signal = 'after.probe'`)
      return s[0]?.values[0]?.[1] === 1
    })
    const s = await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE signal = 'poison.probe'`)
    expect(s[0]?.values[0]?.[1]).toBe(1)
    expect(await byLabel(svc.metrics.accepted, 'kind')).toEqual({ telemetry: 2 })
  })
})
