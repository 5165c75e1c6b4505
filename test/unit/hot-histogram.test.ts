import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ACK_LATENCY_BUCKETS, createMetrics } from '../../src/metrics/metrics.js'

const BUCKETS = [...ACK_LATENCY_BUCKETS]

/** The exposition lines of the ack-latency histogram, for a comparison. */
async function lines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith('iiot_ack_latency_seconds'))
}

describe('ack latency: a histogram recorded without prom-client per observation', () => {
  it('exposes what prom-client observe would, for single and repeated values, across scrapes and mixed with observe', async () => {
    const metrics = createMetrics()
    const reference = new Registry()
    const plain = new Histogram({ name: 'iiot_ack_latency_seconds', help: 'from receiving a QoS 1 publish to its outcome being durable (the PUBACK follows)', buckets: BUCKETS, registers: [reference] })
    const values: [number, number][] = [[0.0001, 1], [0.0005, 3], [0.0031, 2], [0.7, 1], [9, 2]]
    for (const [v, n] of values) {
      metrics.ackLatency.record(v, n)
      for (let i = 0; i < n; i++) plain.observe(v)
    }
    expect(await lines(metrics.registry)).toEqual(await lines(reference))
    // Folded once: a second scrape shows the same, and later records add to it.
    expect(await lines(metrics.registry)).toEqual(await lines(reference))
    metrics.ackLatency.record(0.02)
    metrics.ackLatency.observe(0.02)
    plain.observe(0.02)
    plain.observe(0.02)
    expect(await lines(metrics.registry)).toEqual(await lines(reference))
    expect((await metrics.ackLatency.get()).values.find((v) => v.metricName === 'iiot_ack_latency_seconds_count')?.value).toBe(11)
  })

  it('counts again after the registry is reset', async () => {
    const metrics = createMetrics()
    metrics.ackLatency.record(0.003, 4)
    metrics.registry.resetMetrics()
    metrics.ackLatency.record(0.003, 2)
    const count = (await metrics.ackLatency.get()).values.find((v) => v.metricName === 'iiot_ack_latency_seconds_count')
    expect(count?.value).toBe(2)
  })
})
