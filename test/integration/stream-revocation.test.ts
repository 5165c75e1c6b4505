import { readFile, writeFile } from 'node:fs/promises'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'

// A live stream is authorized when it opens; a key removed from the registry since must not keep it.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
})

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const send = (seq: number) => publish(gw, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq, changes: [{ state: 1, tsMs: Date.now() }] }))

describe('live stream and the registry', () => {
  it('ends the streams of a key removed by a reload, and keeps the others', async () => {
    const revoked = await openSseStream(svc.httpUrl, '/api/v1/stream?factory=fa', KEYS.factoryA)
    const kept = await openSseStream(svc.httpUrl, '/api/v1/stream?factory=fa', KEYS.all)
    try {
      await send(1)
      await eventually(() => revoked.events.length === 1 && kept.events.length === 1)
      const registry = JSON.parse(await readFile(svc.registryFile, 'utf8'))
      registry.apiKeys = registry.apiKeys.filter((k: { id: string }) => k.id !== 'eng-a')
      await writeFile(svc.registryFile, JSON.stringify(registry))
      expect(await svc.registry.reload()).toBe(true)
      await revoked.ended
      expect(revoked.comments.at(-1)).toMatch(/API key of this stream was removed or changed/)
      await send(2)
      await eventually(() => kept.events.length === 2)
      expect(revoked.events).toHaveLength(1)
      // Reconnecting with the removed key is refused.
      expect((await fetch(`${svc.httpUrl}/api/v1/stream`, { headers: { authorization: `Bearer ${KEYS.factoryA}` } })).status).toBe(401)
    } finally {
      await revoked.close()
      await kept.close()
    }
  })
})
