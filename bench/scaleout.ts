import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { freePort, startLocalInfluxd, type LocalInfluxd } from '../src/devtools/local-influxd.js'
import { messageTypes } from '../src/pipeline/proto-schema.js'
import { mosquittoFiles } from '../src/registry/mosquitto-files.js'
import { mosquittoHash } from '../src/registry/mosquitto-hash.js'
import { buildBenchRegistry } from './lib/bench-registry.js'
import { numberOption, parseOptions, UsageError, type OptionSpecs } from './lib/cli.js'
import { benchTempDir, removeTempDir } from './lib/interrupt.js'
import { startTestMosquitto, type TestMosquitto } from './lib/mosquitto.js'
import { protoBody } from './lib/payloads.js'
import { ServiceProcess } from './lib/service-process.js'
import type { BenchResult } from './scenario.js'

/**
 * `npm run bench -- scaleout --workers 1,2,3 [--duration 10] [--gateways 4] [--window 100] [--samples 10] [--connections 16]`
 * (docs/scaling-out.md): QoS 1 telemetry from mqtt.js gateways into Mosquitto, consumed by 1, 2, 3
 * workers through the shared subscription, against Mosquitto's own ceiling measured first in the
 * same run (one plain subscriber that acknowledges at once). Per worker count: messages/s the
 * workers made durable, from the first publish until the broker's backlog was drained (and while
 * the publishers still ran, when they compete for the same cores), the broker's PUBACK latency to gateways, the workers'
 * journal acknowledgement latency, how long the broker's backlog took to drain, and the loss (stored
 * points against acknowledged messages: must be 0).
 */
const SERVICE_USER = 'iiot-service'
const types = messageTypes()
const encodeTelemetry = (body: Record<string, unknown>) => Buffer.from(types.telemetry.encode(types.telemetry.fromObject(body)).finish())

export const SCALEOUT_HELP = `workers: --workers 1,2,3 (the worker counts to measure) --connections N (each worker's to Mosquitto, default 16)
load:    --gateways N (default 4) --window N (unacknowledged per gateway, default 100) --samples N (default 10) --duration S (default 10)`
export const SCALEOUT_OPTIONS: OptionSpecs = { workers: { type: 'string' }, duration: { type: 'string' }, gateways: { type: 'string' }, window: { type: 'string' }, samples: { type: 'string' }, connections: { type: 'string' } }
const pct = (xs: number[], p: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!)
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Gw { readonly id: string; readonly secret: string; readonly zone: string; readonly factory: string; readonly machines: readonly { line: string; machine: string }[] }

/** Publishes QoS 1 from every gateway, `window` unacknowledged each, for `ms`; PUBACK latencies in ms. */
async function publishFor(url: string, gws: readonly Gw[], ms: number, window: number, samples: number, seqBase: { n: number }): Promise<{ acked: number; latencies: number[] }> {
  const clients = await Promise.all(gws.map((g) => mqtt.connectAsync(url, { clientId: `${g.id}-${randomBytes(3).toString('hex')}`, username: g.id, password: g.secret, protocolVersion: 4, reconnectPeriod: 0 })))
  const latencies: number[] = []
  let acked = 0
  const until = Date.now() + ms
  const t0 = Date.now() - 86_400_000
  await Promise.all(clients.map(async (c: MqttClient, gi) => {
    const g = gws[gi]!
    const inFlight = new Set<Promise<void>>()
    let k = 0
    while (Date.now() < until) {
      const seq = seqBase.n++
      const m = g.machines[k++ % g.machines.length]!
      const sent = performance.now()
      const p: Promise<void> = c.publishAsync(`iiot/v1/${g.zone}/${g.factory}/${m.line}/${m.machine}/telemetry`, encodeTelemetry(protoBody('telemetry', samples, seq, t0 + seq, Math.random)), { qos: 1 }).then(() => {
        acked++
        latencies.push(performance.now() - sent)
      }).finally(() => inFlight.delete(p))
      inFlight.add(p)
      if (inFlight.size >= window) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  }))
  await Promise.all(clients.map((c) => c.endAsync()))
  return { acked, latencies }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

export async function run(argv: readonly string[]): Promise<BenchResult> {
  const values = parseOptions(argv, SCALEOUT_OPTIONS)
  const workers = (values.workers as string | undefined) ?? '1,2,3'
  const counts = workers.split(',').map(Number)
  if (!counts.every((n) => Number.isInteger(n) && n >= 1 && n <= 16)) throw new UsageError(`--workers takes worker counts from 1 to 16, comma-separated (e.g. 1,2,3); got "${workers}"`)
  const durationMs = numberOption(values, 'duration', 10, 1, 3600) * 1000
  const window = numberOption(values, 'window', 100, 1, 10_000)
  const samples = numberOption(values, 'samples', 10, 1, 10_000)
  const connections = String(numberOption(values, 'connections', 16, 1, 64))
  const { doc, gateways } = await buildBenchRegistry({ gateways: numberOption(values, 'gateways', 4, 1, 5000), machinesPerGateway: 5, hashN: 1024 })
  for (const [i, g] of doc.gateways.entries()) g.brokerHash = await mosquittoHash(gateways[i]!.secret, 1000)
  const servicePassword = randomBytes(18).toString('base64url')
  const files = mosquittoFiles(doc as Parameters<typeof mosquittoFiles>[0], { serviceUser: SERVICE_USER, serviceHash: await mosquittoHash(servicePassword, 1000), announceTopic: 'iiot-internal/v1/accepted', sparkplugHostId: 'iiot-ingest' })
  const dir = benchTempDir('iiot-bench-scaleout-')
  let influxd: LocalInfluxd | undefined
  let broker: TestMosquitto
  try {
    await writeFile(join(dir, 'registry.json'), JSON.stringify(doc))
    influxd = await startLocalInfluxd({ dataDir: join(dir, 'influxd') })
    broker = await startTestMosquitto(files)
  } catch (err) {
    await influxd?.stop()
    await removeTempDir(dir)
    throw err
  }
  const seq = { n: 0 }
  const log = (s: string) => process.stderr.write(`[scaleout] ${s}\n`)
  try {
    // Mosquitto's ceiling: the same load to one plain subscriber whose PUBACK goes at once.
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'ceiling', username: SERVICE_USER, password: servicePassword, protocolVersion: 4 })
    let got = 0
    sub.on('message', () => got++)
    await sub.subscribeAsync('iiot/v1/#', { qos: 1 })
    const ceilingStart = Date.now()
    const c = await publishFor(broker.url, gateways, durationMs, window, samples, seq)
    // Measured as the workers are: every acknowledged message delivered, over the whole time it took.
    while (got < c.acked && Date.now() - ceilingStart < 120_000) await sleep(50)
    const ceiling = { messagesPerSec: round(got / ((Date.now() - ceilingStart) / 1000), 0), pubackP50Ms: round(pct(c.latencies, 50)), pubackP99Ms: round(pct(c.latencies, 99)) }
    await sub.endAsync()
    log(`mosquitto ceiling ${ceiling.messagesPerSec} msg/s`)

    const runs: Record<string, unknown>[] = []
    for (const k of counts) {
      const db = `scaleout_${k}`
      const group = `bench-${k}-${randomBytes(3).toString('hex')}`
      const workers: { proc: ServiceProcess; url: string }[] = []
      for (let i = 0; i < k; i++) {
        const port = await freePort()
        const url = `http://127.0.0.1:${port}`
        const proc = new ServiceProcess({ SERVICE_MODE: 'worker', DATA_DIR: join(dir, `${group}-w${i}`), REGISTRY_FILE: join(dir, 'registry.json'), INFLUX_URL: influxd.url, INFLUX_DATABASE: db, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), BROKER_URL: broker.url, BROKER_USERNAME: SERVICE_USER, BROKER_PASSWORD: servicePassword, BROKER_CLIENT_ID: `${group}-w${i}`, BROKER_SHARE_GROUP: group, BROKER_CONNECTIONS: connections, LOG_LEVEL: 'warn' }, url)
        await proc.start()
        workers.push({ proc, url })
      }
      try {
        const started = Date.now()
        const load = await publishFor(broker.url, gateways, durationMs, window, samples, seq)
        const inWindow = (await Promise.all(workers.map((w) => metric(w.url, 'iiot_mqtt_messages_in_total')))).reduce((a, b) => a + b, 0)
        const loadSeconds = (Date.now() - started) / 1000
        let received = inWindow
        const drainDeadline = Date.now() + 120_000
        while (received < load.acked && Date.now() < drainDeadline) {
          await sleep(250)
          received = (await Promise.all(workers.map((w) => metric(w.url, 'iiot_mqtt_messages_in_total')))).reduce((a, b) => a + b, 0)
        }
        const drainSeconds = (Date.now() - started) / 1000 - loadSeconds
        const ackSum = (await Promise.all(workers.map((w) => metric(w.url, 'iiot_ack_latency_seconds_sum')))).reduce((a, b) => a + b, 0)
        const ackCount = (await Promise.all(workers.map((w) => metric(w.url, 'iiot_ack_latency_seconds_count')))).reduce((a, b) => a + b, 0)
        // Stored points against acknowledged messages (each message: `samples` points of their own).
        const want = load.acked * samples
        let stored = 0
        const storeDeadline = Date.now() + 120_000
        while (stored < want && Date.now() < storeDeadline) {
          const res = await fetch(`${influxd.url}/query?db=${db}&q=${encodeURIComponent('SELECT count("value") FROM "telemetry"')}`)
          const body = (await res.json()) as { results: { series?: { values: number[][] }[] }[] }
          stored = body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0
          if (stored < want) await sleep(500)
        }
        const r = { workers: k, acked: load.acked, workerMessagesPerSecUnderLoad: round(inWindow / loadSeconds, 0), workerMessagesPerSec: round(load.acked / (loadSeconds + drainSeconds), 0), brokerPubackP50Ms: round(pct(load.latencies, 50)), brokerPubackP99Ms: round(pct(load.latencies, 99)), workerAckMeanMs: round(ackCount > 0 ? (ackSum / ackCount) * 1000 : 0), backlogDrainSeconds: round(drainSeconds, 1), lost: Math.max(0, Math.round((want - stored) / samples)) }
        log(JSON.stringify(r))
        runs.push(r)
      } finally {
        for (const w of workers) await w.proc.stop()
      }
    }
    return { scenario: 'scaleout', cores: cpus().length, durationS: durationMs / 1000, gateways: gateways.length, connectionsPerWorker: Number(connections), window, samplesPerMessage: samples, ceiling, runs, lost: runs.reduce((a, r) => a + (r.lost as number), 0) }
  } finally {
    await broker.dispose()
    await influxd.stop()
    await removeTempDir(dir)
  }
}
