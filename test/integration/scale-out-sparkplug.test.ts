import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { newClient } from 'sparkplug-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ServiceProcess } from '../../bench/lib/service-process.js'
import { freePort } from '../../src/devtools/local-influxd.js'
import { mosquittoFiles } from '../../src/registry/mosquitto-files.js'
import { mosquittoHash } from '../../src/registry/mosquitto-hash.js'
import { registryFileSchema } from '../../src/registry/registry-schema.js'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { startTestMosquitto, type TestMosquitto } from '../helpers/mosquitto.js'
import { apiGet, eventually } from '../helpers/service.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'

// Sparkplug B in worker mode (docs/scaling-out.md): a real edge node (Eclipse Tahu's client) behind
// Mosquitto with the generated ACL, one worker as the primary host.
const PASSWORD = 'service-password-0123456789'
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let mosquitto: TestMosquitto
let dir: string
let worker: ServiceProcess
let url: string
let watcher: MqttClient | undefined
let edge: ReturnType<typeof newClient> | undefined
const states: string[] = []
let births = 0
let rebirths = 0

function publishBirths(): void {
  births++
  edge!.publishNodeBirth({ timestamp: Date.now(), metrics: [{ name: 'Status/Mode', type: 'Int32', value: 1 }, { name: 'Node Control/Rebirth', type: 'Boolean', value: false }] })
  edge!.publishDeviceBirth('press-1', { timestamp: Date.now(), metrics: [{ name: 'Status/Mode', type: 'Int32', value: 1 }, { name: 'Spindle', alias: 7, type: 'Double', value: 1.25 }] })
}

beforeAll(async () => {
  process.env.IIOT_SERVICE_FROM_SOURCE = '1'
  dir = await mkdtemp(join(tmpdir(), 'iiot-scaleout-sp-'))
  influxd = await startTestInfluxd()
  const raw = (await sparkplugRegistry()) as { gateways: { id: string; brokerHash?: string }[] }
  raw.gateways[0]!.brokerHash = await mosquittoHash(SECRETS.gwA, 1000)
  await writeFile(join(dir, 'registry.json'), JSON.stringify(raw))
  mosquitto = await startTestMosquitto(mosquittoFiles(registryFileSchema.parse(raw), { serviceUser: 'iiot-service', serviceHash: await mosquittoHash(PASSWORD, 1000), announceTopic: 'iiot-internal/v1/accepted', sparkplugHostId: 'iiot-ingest' }))
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  worker = new ServiceProcess({
    SERVICE_MODE: 'worker', DATA_DIR: join(dir, 'w'), REGISTRY_FILE: join(dir, 'registry.json'), INFLUX_URL: influxd.url, INFLUX_DATABASE: 'sp',
    HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), BROKER_URL: mosquitto.url, BROKER_USERNAME: 'iiot-service', BROKER_PASSWORD: PASSWORD,
    BROKER_CLIENT_ID: 'w-sp', BROKER_CONNECTIONS: '1', DECODE_WORKERS: '0', SPARKPLUG_REBIRTH_MIN_INTERVAL_MS: '0', LOG_LEVEL: 'warn',
  }, url)
  await worker.start()
  watcher = await connectGateway(mosquitto.url, 'gw-a', SECRETS.gwA)
  watcher.on('message', (_t, p) => states.push(p.toString()))
  await watcher.subscribeAsync('spBv1.0/STATE/iiot-ingest', { qos: 1 })
  edge = newClient({ serverUrl: mosquitto.url, username: 'gw-a', password: SECRETS.gwA, groupId: 'plant-a', edgeNode: 'edge-1', clientId: 'edge-1', publishDeath: true, version: 'spBv1.0', mqttOptions: { reconnectPeriod: 200 } })
  edge.on('birth', publishBirths)
  edge.on('ncmd', (p) => {
    if (p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) {
      rebirths++
      publishBirths()
    }
  })
  await eventually(() => births > 0)
}, 60_000)

afterAll(async () => {
  edge?.stop()
  await watcher?.endAsync()
  await worker?.stop()
  await mosquitto?.dispose()
  await influxd?.dispose()
  await rm(dir, { recursive: true, force: true })
}, 30_000)

describe('Sparkplug B through an external broker', () => {
  it('STATE online reaches edge nodes; device data is stored; an unknown alias brings a rebirth request through the broker', async () => {
    await eventually(() => states.length > 0)
    expect(JSON.parse(states[0]!)).toMatchObject({ online: true })
    const T = Date.now() + 1
    edge!.publishDeviceData('press-1', { timestamp: T, metrics: [{ name: 'Spindle', alias: 7, type: 'Double', value: 2.5 } as never] })
    const latest = await eventually(async () => {
      const r = await apiGet(url, '/api/v1/telemetry/latest?factory=fa&signal=Spindle&lookback=1h', KEYS.all)
      return r.body.values?.[0]?.time === new Date(T).toISOString() ? r.body.values[0] : undefined
    }, 20_000, 200)
    expect(latest).toMatchObject({ machine: 'm1', value: 2.5 })
    edge!.publishNodeData({ timestamp: Date.now(), metrics: [{ alias: 4242, type: 'Double', value: 1 } as never] })
    await eventually(() => rebirths > 0, 15_000)
  }, 60_000)
})
