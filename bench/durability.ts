import { numberOption, parseOptions, type OptionSpecs } from './lib/cli.js'
import { progress, sleep, startTarget, waitFor } from './lib/harness.js'
import { LoadGenerator } from './lib/load-generator.js'
import { verifyStored } from './lib/verify-stored.js'
import type { BenchResult } from './scenario.js'

export const DURABILITY_HELP = `load:    --gateways N (default 20) --rate N (msg/s; default 0: closed loop, --window N unacknowledged per gateway, default 20)
         --samples N (default 10) --duration S (each measured run, default 15) --rounds N (journal, memory pairs, default 2)`
export const DURABILITY_OPTIONS: OptionSpecs = { gateways: { type: 'string' }, rate: { type: 'string' }, samples: { type: 'string' }, duration: { type: 'string' }, rounds: { type: 'string' }, window: { type: 'string' } }

/**
 * The cost of durability: the same QoS 1 load acknowledged after fdatasync
 * (JOURNAL_ENABLED=true) and acknowledged from memory (false), measured in
 * the same run, alternating A B A B so machine drift hits both. Fixed rate
 * (`--rate`) or closed loop (`--rate 0`: each gateway keeps `--window`
 * messages unacknowledged, as fast as acknowledgements come back).
 */
export async function run(argv: readonly string[]): Promise<BenchResult> {
  const values = parseOptions(argv, DURABILITY_OPTIONS)
  const gateways = numberOption(values, 'gateways', 20, 1, 2000)
  const rate = numberOption(values, 'rate', 0, 0, 1_000_000)
  const samples = numberOption(values, 'samples', 10, 1, 10_000)
  const durationS = numberOption(values, 'duration', 15, 1, 600)
  const rounds = numberOption(values, 'rounds', 2, 1, 5)
  const window = numberOption(values, 'window', 20, 1, 10_000)
  const results: Record<'journal' | 'memory', { msgsPerSec: number[]; ackP50: number[]; ackP99: number[]; lost: number }> = {
    journal: { msgsPerSec: [], ackP50: [], ackP99: [], lost: 0 },
    memory: { msgsPerSec: [], ackP50: [], ackP99: [], lost: 0 },
  }
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['journal', 'memory'] as const) {
      const target = await startTarget({ gateways, machinesPerGateway: 2, env: { JOURNAL_ENABLED: mode === 'journal' ? 'true' : 'false' } })
      const gen = new LoadGenerator({ url: target.mqttUrl, gateways: target.gateways, messagesPerSecond: rate, samplesPerMessage: samples, qos: 1, maxInflight: window })
      try {
        await gen.connect()
        gen.start()
        await sleep(2000) // warm-up, not counted
        const a0 = gen.stats().acked
        const lat0 = gen.ackLatencies().length
        const t0 = performance.now()
        await sleep(durationS * 1000)
        const acked = gen.stats().acked - a0
        const seconds = (performance.now() - t0) / 1000
        const lat = [...gen.ackLatencies().slice(lat0)].sort((x, y) => x - y)
        await gen.stop()
        await waitFor(async () => (await target.journal()).unwrittenRecords === 0, 120_000)
        const v = await verifyStored(gen, (q) => target.query(q), samples)
        const r = results[mode]
        r.msgsPerSec.push(acked / seconds)
        r.ackP50.push(pct(lat, 0.5))
        r.ackP99.push(pct(lat, 0.99))
        r.lost += v.lost
        progress(`round ${round + 1} ${mode}: ${(acked / seconds).toFixed(0)} msg/s acked, ack p50 ${pct(lat, 0.5).toFixed(2)} ms p99 ${pct(lat, 0.99).toFixed(2)} ms, lost ${v.lost}`)
      } finally {
        await gen.disconnect().catch(() => undefined)
        await target.dispose()
      }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!
  const j = results.journal
  const m = results.memory
  return {
    scenario: 'durability',
    gateways,
    samplesPerMessage: samples,
    rate: rate === 0 ? 'closed-loop' : rate,
    journal: { messagesPerSec: Math.round(med(j.msgsPerSec)), ackP50Ms: round2(med(j.ackP50)), ackP99Ms: round2(med(j.ackP99)), lost: j.lost },
    memory: { messagesPerSec: Math.round(med(m.msgsPerSec)), ackP50Ms: round2(med(m.ackP50)), ackP99Ms: round2(med(m.ackP99)), lost: m.lost },
    throughputRatio: round2(med(j.msgsPerSec) / med(m.msgsPerSec)),
    ackP99Ratio: round2(med(j.ackP99) / med(m.ackP99)),
    lost: j.lost + m.lost,
  }
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

const round2 = (x: number) => Math.round(x * 100) / 100
