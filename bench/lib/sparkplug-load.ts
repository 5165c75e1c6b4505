import type { MqttClient } from 'mqtt'
import { demoDeviceId } from '../../src/registry/demo-registry.js'
import { encodeSparkplugPayload, type SpMetricInput } from '../../src/sparkplug/payload.js'
import { sparkplugTopic } from '../../src/sparkplug/topic.js'
import { DataType } from '../../src/sparkplug/values.js'
import { signal } from './payloads.js'

/** The part of a load gateway this file reads (load-generator.ts' LoadGateway; said here so the two do not import each other). */
interface LoadGateway {
  readonly id: string
  readonly factory: string
  readonly machines: readonly { readonly line: string; readonly machine: string }[]
}

/**
 * The bench's gateways as Sparkplug B edge nodes (`--protocol sparkplug`, docs/sparkplug.md), in
 * the demo convention (group = factory, edge node = gateway, device = `{line}.{machine}`): on
 * every connect an NBIRTH and one DBIRTH per machine defining `s0..sN-1` (and `probe`) by alias,
 * then DDATA by alias. The same points as iiot/v1 telemetry land in InfluxDB (signal `sK`, the
 * message's timestamp), so the loss check is unchanged; births carry their values at `base - 1`,
 * outside it.
 */
export class SparkplugLoad {
  private readonly seqs = new WeakMap<MqttClient, number>()

  constructor(private readonly samples: number) {}

  topic(gw: LoadGateway, m: { line: string; machine: string }): string {
    return sparkplugTopic(gw.factory, 'DDATA', gw.id, demoDeviceId(m.line, m.machine))
  }

  private seq(client: MqttClient): number {
    const s = this.seqs.get(client) ?? 0
    this.seqs.set(client, (s + 1) % 256)
    return s
  }

  /** Publishes the births of `gw` (QoS 1, ahead of any data on this connection). */
  births(client: MqttClient, gw: LoadGateway, base: number): void {
    this.seqs.set(client, 0)
    const send = (topic: string, metrics: SpMetricInput[]) => client.publish(topic, encodeSparkplugPayload({ timestamp: base - 1, seq: this.seq(client), metrics }), { qos: 1 })
    send(sparkplugTopic(gw.factory, 'NBIRTH', gw.id), [{ name: 'bdSeq', datatype: DataType.UInt64, longValue: 0 }])
    const metrics: SpMetricInput[] = Array.from({ length: this.samples }, (_, k) => ({ name: signal(k), alias: k + 1, datatype: DataType.Double, doubleValue: 0 }))
    metrics.push({ name: 'probe', alias: 0, datatype: DataType.Double, doubleValue: 0 })
    for (const m of gw.machines) send(sparkplugTopic(gw.factory, 'DBIRTH', gw.id, demoDeviceId(m.line, m.machine)), metrics)
  }

  /** A DDATA payload carrying a telemetry body's samples, by alias, at the body's timestamp. */
  data(client: MqttClient, body: Record<string, unknown>): Buffer {
    const samples = body['samples'] as { doubleValue: number; tsMs: number }[]
    return encodeSparkplugPayload({ timestamp: samples[0]!.tsMs, seq: this.seq(client), metrics: samples.map((s, k) => ({ alias: k + 1, doubleValue: s.doubleValue })) })
  }

  probe(client: MqttClient, gw: LoadGateway, m: { line: string; machine: string }, tsMs: number): [string, Buffer] {
    return [this.topic(gw, m), encodeSparkplugPayload({ timestamp: tsMs, seq: this.seq(client), metrics: [{ alias: 0, doubleValue: 1 }] })]
  }
}
