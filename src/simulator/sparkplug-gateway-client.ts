import { connect, type MqttClient } from 'mqtt'
import { demoDeviceId } from '../registry/demo-registry.js'
import { decodeSparkplugPayload, encodeSparkplugPayload, type SpMetricInput } from '../sparkplug/payload.js'
import { sparkplugTopic } from '../sparkplug/topic.js'
import { DataType } from '../sparkplug/values.js'
import type { GatewayClient, GatewayClientOptions } from './gateway-client.js'
import { MOVEMENTS } from '../domain/records.js'
import { MATERIAL_METRIC } from '../sparkplug/material-dataset.js'
import type { MessageBody, MovementMsg, SampleMsg } from './messages.js'

/** The modem metrics of an edge node: name, alias, and the link report's field (DEMO_SPARKPLUG_MAPPING.link names them). */
const LINK_METRICS = [
  ['Modem/RSRP', 1001, 'rsrpDbm'],
  ['Modem/RSRQ', 1002, 'rsrqDb'],
  ['Modem/SINR', 1003, 'sinrDb'],
  ['Modem/RTT', 1004, 'rttMs'],
] as const

interface Device {
  /** metric name -> its alias and last value (a birth repeats each at its own time: the same point again). */
  readonly metrics: Map<string, { alias: number; last: SpMetricInput }>
  born: boolean
  good: number
  reject: number
}

function sampleMetric(s: SampleMsg): SpMetricInput & { name: string } {
  if (s.boolValue !== undefined) return { name: s.signal, datatype: DataType.Boolean, booleanValue: s.boolValue, timestamp: s.tsMs }
  if (s.stringValue !== undefined) return { name: s.signal, datatype: DataType.String, stringValue: s.stringValue, timestamp: s.tsMs }
  if (s.intValue !== undefined) return { name: s.signal, datatype: DataType.Int64, longValue: BigInt(Math.trunc(s.intValue)), timestamp: s.tsMs }
  return { name: s.signal, datatype: DataType.Double, doubleValue: s.doubleValue ?? 0, timestamp: s.tsMs }
}

const MOVEMENT_COLUMNS = ['movement', 'material', 'lot', 'quantity', 'unit', 'work_order', 'ts_ms']
const MOVEMENT_TYPES = [DataType.String, DataType.String, DataType.String, DataType.Double, DataType.String, DataType.String, DataType.DateTime]

/** Movements as the material DataSet of docs/sparkplug.md: one row each, movement by name, its own ts_ms (so a birth repeating it writes the same points). */
function movementsMetric(movements: readonly MovementMsg[]): SpMetricInput & { name: string } {
  const rows = movements.map((m) => ({
    elements: [{ stringValue: MOVEMENTS[m.movement - 1]!.toUpperCase() }, { stringValue: m.material }, { stringValue: m.lot }, { doubleValue: m.quantity }, { stringValue: m.unit }, { stringValue: m.workOrder }, { longValue: BigInt(m.tsMs) }],
  }))
  const ts = movements.reduce((t, m) => Math.max(t, m.tsMs), 0)
  return { name: MATERIAL_METRIC, datatype: DataType.DataSet, datasetValue: { numOfColumns: MOVEMENT_COLUMNS.length, columns: MOVEMENT_COLUMNS, types: MOVEMENT_TYPES, rows }, timestamp: ts }
}

/**
 * The simulator's gateway as a Sparkplug B edge node (docs/sparkplug.md, demo convention of
 * src/registry/demo-registry.ts): group = factory, edge node = gateway, device = `{line}.{machine}`.
 * It births each device with the metrics it is about to publish (again when a new metric name
 * appears), sends data by alias, counts parts as monotonic counters, answers the host's rebirth
 * request, and leaves an NDEATH will with its bdSeq. Material movements go as the device's
 * `Material/Movements` DataSet. Connectivity reports have no Sparkplug form here and are skipped
 * (counted).
 */
export function createSparkplugGatewayClient(opts: GatewayClientOptions): GatewayClient {
  const { gateway, stats, log, qos } = opts
  const group = gateway.factory
  const node = gateway.id
  const maxInFlight = opts.maxInFlight ?? 10_000
  const bdSeq = Date.now() % 256
  let seq = 0
  let inFlight = 0
  const devices = new Map<string, Device>()
  const nextSeq = () => {
    const s = seq
    seq = (seq + 1) % 256
    return s
  }
  const bdSeqMetric = { name: 'bdSeq', datatype: DataType.UInt64, longValue: bdSeq }
  const client: MqttClient = connect(opts.url, {
    clientId: `${gateway.id}-sim`,
    username: gateway.id,
    password: gateway.secret,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: opts.reconnectPeriodMs ?? 5_000,
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    will: { topic: sparkplugTopic(group, 'NDEATH', node), payload: encodeSparkplugPayload({ timestamp: Date.now(), metrics: [bdSeqMetric] }), qos: 1, retain: false },
  })

  function send(topic: string, metrics: SpMetricInput[], kind: MessageBody['kind'] | 'birth'): void {
    if (!client.connected || inFlight >= maxInFlight) {
      stats.skipped++
      return
    }
    stats.published++
    if (kind !== 'birth') stats.byKind[kind]++
    inFlight++
    client.publish(topic, encodeSparkplugPayload({ timestamp: Date.now(), seq: nextSeq(), metrics }), { qos }, (err) => {
      inFlight--
      if (err) stats.errors++
      else stats.acked++
    })
  }

  function birthAll(): void {
    seq = 0
    // The modem's link metrics are the node's own (the demo mapping's `link`): born without a value, sent by alias.
    const link = LINK_METRICS.map(([name, alias]) => ({ name, alias, datatype: DataType.Double, isNull: true }))
    send(sparkplugTopic(group, 'NBIRTH', node), [bdSeqMetric, { name: 'Node Control/Rebirth', datatype: DataType.Boolean, booleanValue: false }, ...link], 'birth')
    for (const d of devices.values()) d.born = false
  }

  client.on('connect', () => {
    log(`${gateway.id}: connected to ${opts.url} as Sparkplug edge node ${group}/${node}`)
    client.subscribe(sparkplugTopic(group, 'NCMD', node), { qos: 0 })
    birthAll()
  })
  client.on('message', (_topic, payload) => {
    try {
      if (decodeSparkplugPayload(payload).metrics.some((m) => m.name === 'Node Control/Rebirth' && m.booleanValue === true)) birthAll()
    } catch {
      log(`${gateway.id}: an NCMD that is not a Sparkplug payload; ignored`)
    }
  })
  client.on('error', (err) => log(`${gateway.id}: ${err.message}`))

  function publishDevice(deviceId: string, metrics: (SpMetricInput & { name: string })[], kind: MessageBody['kind']): void {
    let d = devices.get(deviceId)
    if (!d) devices.set(deviceId, (d = { metrics: new Map(), born: false, good: 0, reject: 0 }))
    for (const m of metrics) {
      const known = d.metrics.get(m.name)
      if (known) known.last = m
      else {
        d.metrics.set(m.name, { alias: d.metrics.size + 1, last: m })
        d.born = false
      }
    }
    if (!d.born) {
      // A birth carries every metric the device has shown so far, with its alias, type and latest value.
      const birth = [...d.metrics.values()].map(({ alias, last }) => ({ ...last, alias }))
      send(sparkplugTopic(group, 'DBIRTH', node, deviceId), birth, kind)
      d.born = client.connected
      return
    }
    send(sparkplugTopic(group, 'DDATA', node, deviceId), metrics.map(({ name, ...m }) => ({ ...m, alias: d.metrics.get(name)!.alias })), kind)
  }

  return {
    id: gateway.id,
    isConnected: () => client.connected,
    publishMachine(line, machine, body) {
      const id = demoDeviceId(line, machine)
      switch (body.kind) {
        case 'telemetry':
          return publishDevice(id, body.samples.map(sampleMetric), 'telemetry')
        case 'state':
          return publishDevice(id, body.changes.flatMap((c) => [{ name: 'State', datatype: DataType.Int32, intValue: c.state, timestamp: c.tsMs }, { name: 'State/Reason', datatype: DataType.String, stringValue: c.reasonCode, timestamp: c.tsMs }]), 'state')
        case 'production': {
          const d = devices.get(id) ?? { good: 0, reject: 0 }
          const metrics = body.reports.flatMap((r) => {
            d.good += r.good
            d.reject += r.reject
            return [
              { name: 'Counts/Good', datatype: DataType.UInt64, longValue: BigInt(d.good), timestamp: r.tsMs },
              { name: 'Counts/Reject', datatype: DataType.UInt64, longValue: BigInt(d.reject), timestamp: r.tsMs },
              { name: 'Cycle/Time', datatype: DataType.Double, doubleValue: r.cycleTimeS, timestamp: r.tsMs },
            ]
          })
          publishDevice(id, metrics, 'production')
          const dev = devices.get(id)!
          dev.good = d.good
          dev.reject = d.reject
          return
        }
        case 'quality':
          return publishDevice(id, body.inspections.map((i) => ({ name: `Quality/${i.characteristic}`, datatype: DataType.Double, doubleValue: i.value, timestamp: i.tsMs })), 'quality')
        case 'material':
          return publishDevice(id, [movementsMetric(body.movements)], 'material')
        default:
          stats.skipped++
      }
    },
    publishConnectivity(body) {
      const metrics = body.reports.flatMap((r) => LINK_METRICS.map(([, alias, field]) => ({ alias, datatype: DataType.Double, doubleValue: r[field], timestamp: r.tsMs })))
      send(sparkplugTopic(group, 'NDATA', node), metrics, 'connectivity')
    },
    async end(timeoutMs) {
      const deadline = Date.now() + timeoutMs
      while (inFlight > 0 && client.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      try {
        // A clean stop says so: the NDEATH a will would have sent (Sparkplug 3.0, 7.1). Waited for until
        // the deadline only: a broker that went away meanwhile would leave it waiting for its PUBACK forever.
        let deathAcked = false
        if (client.connected) {
          const ndeath = client.publishAsync(sparkplugTopic(group, 'NDEATH', node), encodeSparkplugPayload({ timestamp: Date.now(), metrics: [bdSeqMetric] }), { qos: 1 })
          let timer: NodeJS.Timeout | undefined
          const giveUp = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))))
          deathAcked = await Promise.race([ndeath.then(() => true as const, () => false as const), giveUp])
          clearTimeout(timer)
        }
        await client.endAsync(inFlight > 0 || !deathAcked)
      } catch (err) {
        log(`${gateway.id}: error while disconnecting: ${(err as Error).message}`)
      }
    },
  }
}
