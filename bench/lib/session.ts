import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { BenchResult } from '../scenario.js'
import { measureCeilings, type Ceilings, type LoadShape } from './ceilings.js'
import { summariseNewestProfile } from './cpuprofile.js'
import { progress } from './harness.js'
import { LoadGenerator, type LoadOptions } from './load-generator.js'
import { Monitor } from './monitor.js'
import type { BenchOptions } from './options.js'
import { ServiceProcess } from './service-process.js'
import type { QueryableProbe } from './queryable.js'
import { openTarget, type BenchTarget } from './target.js'
import { round, type WindowFigures } from './window.js'

/** The figures every load scenario reports (the summary's contract; null where a figure does not apply). */
export interface CoreFigures {
  readonly messagesPerSec: number | null
  readonly pointsPerSec: number | null
  readonly lost: number
  readonly ackP50Ms: number | null
  readonly ackP99Ms: number | null
  readonly ackP999Ms: number | null
  readonly queryableP50Ms: number | null
  readonly queryableP99Ms: number | null
  readonly cpuSecondsPerMillionPoints: number | null
  readonly gateways: number
}

/** The contract figures from a measured window, the probes and the delivery check (`overrides` for scenario-specific rates). */
export function coreFigures(
  f: WindowFigures | undefined,
  q: { queryableP50Ms: number | null; queryableP99Ms: number | null },
  lost: number,
  gateways: number,
  overrides: Partial<Pick<CoreFigures, 'messagesPerSec' | 'pointsPerSec'>> = {},
): CoreFigures {
  return {
    messagesPerSec: f?.messagesPerSec ?? null,
    pointsPerSec: f?.pointsPerSec ?? null,
    lost,
    ackP50Ms: f?.ackP50Ms ?? null,
    ackP99Ms: f?.ackP99Ms ?? null,
    ackP999Ms: f?.ackP999Ms ?? null,
    queryableP50Ms: q.queryableP50Ms,
    queryableP99Ms: q.queryableP99Ms,
    cpuSecondsPerMillionPoints: f?.cpuSecondsPerMillionPoints ?? null,
    gateways,
    ...overrides,
  }
}

export interface SessionContext {
  readonly target: BenchTarget
  readonly monitor: Monitor
  readonly shape: LoadShape
  readonly ceilings: Ceilings
  readonly opts: BenchOptions
}

/**
 * Every bench gateway connects from 127.0.0.1, so a per-address connection
 * limit would measure the throttle, not the service: the self-contained
 * service runs without it (the global MQTT_CONNECT_RATE stays).
 */
/** The deployment's own setting (Dockerfile, quickstart), and the per-address connection limit off (every bench gateway is 127.0.0.1). */
export const BENCH_SERVICE_ENV: Readonly<Record<string, string>> = { MQTT_CONNECT_RATE_PER_ADDRESS: '0', MALLOC_ARENA_MAX: '2' }

/**
 * The frame of a load scenario: opens the target (self-contained or
 * external), measures the ceilings against it, runs the body, disposes of
 * everything, and assembles the summary: the contract fields first, then
 * the ceilings and ratios, then what the scenario adds. The service's
 * environment is BENCH_SERVICE_ENV, then `targetEnv`, then --service-env.
 */
export async function runSession(
  scenario: string,
  o: BenchOptions,
  body: (ctx: SessionContext) => Promise<{ core: CoreFigures; extra: Record<string, unknown> }>,
  targetEnv: Readonly<Record<string, string>> = {},
): Promise<BenchResult> {
  const started = Date.now()
  const env: Record<string, string> = { ...BENCH_SERVICE_ENV, ...targetEnv, ...o.serviceEnv }
  const profDir = o.cpuProf ? resolve(o.cpuProf) : undefined
  const nodeArgs: string[] = [...o.nodeArgs]
  // (With --target, --node-arg and --cpu-prof are refused by parseBenchOptions.)
  if (profDir) {
    await mkdir(profDir, { recursive: true })
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`)
  }
  progress(`${scenario}: starting ${o.target ? `against ${o.target}` : 'a throwaway influxd and service'} (${o.gateways} gateways x ${o.machines} machines)`)
  const target = await openTarget({ gateways: o.gateways, machines: o.machines, hashN: o.hashN, env, nodeArgs, target: o.target, mqtt: o.mqtt, apiKey: o.apiKey, credentials: o.credentials, servicePid: o.servicePid })
  const monitor = new Monitor(target, scenario)
  let out: { core: CoreFigures; extra: Record<string, unknown> }
  let ceilings: Ceilings
  let peakRssMb: number | undefined
  let heap: { heapUsed: number | null; external: number | null } = { heapUsed: null, external: null }
  let eventLoop: ReturnType<Monitor['eventLoop']> = { lagMaxMs: null, lagP99MedianMs: null, gcSeconds: null }
  try {
    const shape: LoadShape = { gateways: target.gateways, samples: o.samples, mix: o.mix, seed: o.seed, qos: o.qos, window: o.window }
    ceilings = await measureCeilings({ quick: o.quick, influxUrl: target.influxUrl, database: target.database, shape, seconds: o.ceilingS, influxPid: () => target.influxPid() })
    out = await body({ target, monitor, shape, ceilings, opts: o })
    peakRssMb = monitor.peakRssMb()
    heap = monitor.peakHeapMb()
    eventLoop = monitor.eventLoop()
  } finally {
    monitor.stop()
    await target.dispose()
  }
  const profile = profDir && !o.target ? await summariseNewestProfile(profDir, started, ServiceProcess.projectRoot()) : undefined
  if (profDir && !o.target && !profile) progress(`no CPU profile found in ${profDir}`)
  const raw = ceilings.raw?.pointsPerSec ?? null
  const broker = ceilings.broker?.messagesPerSec ?? null
  const c = out.core
  return {
    scenario,
    messagesPerSec: c.messagesPerSec,
    pointsPerSec: c.pointsPerSec,
    lost: c.lost,
    ackP50Ms: c.ackP50Ms,
    ackP99Ms: c.ackP99Ms,
    ackP999Ms: c.ackP999Ms,
    queryableP50Ms: c.queryableP50Ms,
    queryableP99Ms: c.queryableP99Ms,
    cpuSecondsPerMillionPoints: c.cpuSecondsPerMillionPoints,
    peakRssMb: peakRssMb === undefined ? null : Math.round(peakRssMb),
    gateways: c.gateways,
    ceilings: { raw: ceilings.raw ?? { pointsPerSec: null }, broker: ceilings.broker ?? { messagesPerSec: null } },
    ratioToRaw: raw && c.pointsPerSec !== null ? round(c.pointsPerSec / raw, 3) : null,
    ratioToBroker: broker && c.messagesPerSec !== null ? round(c.messagesPerSec / broker, 3) : null,
    ...out.extra,
    peakHeapUsedMb: heap.heapUsed,
    peakExternalMb: heap.external,
    eventLoopLagMaxMs: eventLoop.lagMaxMs,
    eventLoopLagP99Ms: eventLoop.lagP99MedianMs,
    gcSeconds: eventLoop.gcSeconds,
    serviceEnv: o.target ? null : env,
    load: { gateways: o.gateways, machinesPerGateway: o.machines, samplesPerMessage: o.samples, qos: o.qos, mix: o.mixText, window: o.window, seed: o.seed, rampUpS: o.rampUpS },
    durationS: Math.round((Date.now() - started) / 1000),
    ...(profile ? { profile } : {}),
  }
}

/** The gateways of a load scenario, shaped by its options (closed loop unless `over` gives a rate). */
export function loadGenerator(ctx: SessionContext, over: Partial<LoadOptions> = {}): LoadGenerator {
  const o = ctx.opts
  return new LoadGenerator({
    url: ctx.target.mqttUrl,
    gateways: ctx.target.gateways,
    messagesPerSecond: 0,
    samplesPerMessage: o.samples,
    qos: o.qos,
    maxInflight: o.window,
    mix: o.mix,
    seed: o.seed,
    rampUpS: o.rampUpS,
    ...over,
  })
}

/** Stops the queryable probe and the load, and disconnects the gateways (a scenario's `finally`). */
export async function stopLoad(probe: QueryableProbe, gen: LoadGenerator): Promise<void> {
  await probe.stop()
  await gen.stop(5000)
  await gen.disconnect()
}
