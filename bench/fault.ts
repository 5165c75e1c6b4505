import { faultArgs } from './lib/args.js'
import { progress, sleep, startTarget, waitFor, type Target } from './lib/harness.js'
import { LoadGenerator } from './lib/load-generator.js'
import { verifyStored } from './lib/verify-stored.js'
import type { BenchResult } from './scenario.js'

type Fault = 'outage' | 'crash'

/**
 * Fault scenarios at operator scale: a steady QoS 1 load from real gateways,
 * and in its middle either InfluxDB stopped for `--fault` seconds (outage) or
 * the service killed with SIGKILL and restarted after `--fault` seconds
 * (crash). At the end every acknowledged message is looked up in InfluxDB:
 * `lost` must be 0.
 */
export async function runFault(kind: Fault, argv: readonly string[]): Promise<BenchResult> {
  const a = faultArgs(argv, { gateways: 20, machines: 2, rate: 2000, samples: 10, durationS: 60, faultS: kind === 'outage' ? 20 : 2 })
  const started = Date.now()
  const target = await startTarget({ gateways: a.gateways, machinesPerGateway: a.machines })
  const gen = new LoadGenerator({ url: target.mqttUrl, gateways: target.gateways, messagesPerSecond: a.rate, samplesPerMessage: a.samples, qos: 1 })
  try {
    await gen.connect()
    progress(`${kind}: ${a.gateways} gateways x ${a.machines} machines, ${a.rate} msg/s x ${a.samples} samples, ${a.durationS} s, fault ${a.faultS} s`)
    gen.start()
    const ticker = setInterval(() => void report(target, gen), 1000)
    const faultAt = Math.max(2, Math.floor((a.durationS - a.faultS) / 2))
    await sleep(faultAt * 1000)
    if (kind === 'outage') {
      progress('InfluxDB stopped')
      await target.influxd.stop()
      await sleep(a.faultS * 1000)
      await target.influxd.restart()
      progress('InfluxDB restarted')
    } else {
      progress('service killed (SIGKILL)')
      await target.service.kill()
      await sleep(a.faultS * 1000)
      await target.service.start()
      progress('service restarted')
    }
    await sleep(Math.max(0, a.durationS - faultAt - a.faultS) * 1000)
    await gen.stop()
    clearInterval(ticker)
    progress('load stopped; waiting for the journal to drain')
    const drained = await waitFor(async () => (await target.journal()).unwrittenRecords === 0, 300_000)
    const v = await verifyStored(gen, (q) => target.query(q), a.samples)
    const s = gen.stats()
    return {
      scenario: kind,
      sent: s.sent,
      acked: s.acked,
      stored: v.stored,
      lost: v.lost,
      duplicatePoints: v.duplicates,
      unacknowledgedAtEnd: s.inflight,
      drained,
      durationS: Math.round((Date.now() - started) / 100) / 10,
      gateways: a.gateways,
      messagesPerSec: a.rate,
      samplesPerMessage: a.samples,
      faultS: a.faultS,
    }
  } finally {
    await gen.disconnect().catch(() => undefined)
    await target.dispose()
  }
}

async function report(target: Target, gen: LoadGenerator): Promise<void> {
  const s = gen.stats()
  const j = await target.journal().catch(() => undefined)
  progress(`sent=${s.sent} acked=${s.acked} inflight=${s.inflight} backlog=${j ? j.unwrittenRecords : '?'} journalMB=${j ? (j.unwrittenBytes / 1e6).toFixed(1) : '?'}`)
}
