import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, startLocalInfluxd, type LocalInfluxd } from '../../src/devtools/local-influxd.js'
import { buildDemoRegistry } from '../../src/registry/demo-registry.js'
import { buildBenchRegistry } from './bench-registry.js'
import { benchTempDir, interrupted, removeTempDir } from './interrupt.js'
import type { LoadGateway } from './load-generator.js'
import { findPid } from './proc.js'
import { localServiceEnv, ServiceProcess } from './service-process.js'

export interface Target {
  readonly influxd: LocalInfluxd
  readonly service: ServiceProcess
  readonly mqttUrl: string
  readonly httpUrl: string
  readonly apiKey: string
  readonly gateways: LoadGateway[]
  readonly database: string
  query(q: string): Promise<{ tags?: Record<string, string>; values?: unknown[][] }[]>
  /** Journal figures from the service's stats endpoint. */
  journal(): Promise<{ unwrittenRecords: number; unwrittenBytes: number }>
  dispose(): Promise<void>
}

/**
 * A self-contained target: a throwaway influxd, a demo registry with one
 * gateway per factory, and the service as its own process, all on loopback.
 * With `hashN`, the registry is built by buildBenchRegistry (one pass, scrypt
 * at that cost: for thousands of gateways); otherwise by the demo builder.
 */
export async function startTarget(opts: { gateways: number; machinesPerGateway: number; env?: Record<string, string>; hashN?: number; nodeArgs?: readonly string[] }): Promise<Target> {
  const dir = benchTempDir('iiot-bench-')
  let influxd: LocalInfluxd | undefined
  let service: ServiceProcess | undefined
  try {
    influxd = await startLocalInfluxd({ dataDir: join(dir, 'influxdb') })
    const target = await startRest(opts, dir, influxd, (s) => (service = s))
    progress(`started influxd (pid ${findPid(['influxd', influxd.dataDir]) ?? '?'}, ${influxd.url}) and the service (pid ${service?.pid ?? '?'}, ${target.httpUrl}), data in ${dir}`)
    return target
  } catch (err) {
    await service?.stop()
    await influxd?.stop()
    await removeTempDir(dir)
    throw err
  }
}

async function startRest(
  opts: { gateways: number; machinesPerGateway: number; env?: Record<string, string>; hashN?: number; nodeArgs?: readonly string[] },
  dir: string,
  influxd: LocalInfluxd,
  started: (s: ServiceProcess) => void,
): Promise<Target> {
  let registry: { doc: unknown; gateways: LoadGateway[]; apiKey: string }
  if (opts.hashN !== undefined) {
    registry = await buildBenchRegistry({ gateways: opts.gateways, machinesPerGateway: opts.machinesPerGateway, hashN: opts.hashN })
  } else {
    const { doc, credentials, apiKey } = await buildDemoRegistry({ zones: 1, factoriesPerZone: opts.gateways, linesPerFactory: 1, machinesPerLine: opts.machinesPerGateway }, '')
    const gateways = credentials.gateways.map((g) => ({
      id: g.id,
      secret: g.secret,
      zone: g.zone,
      factory: g.factory,
      machines: g.lines.flatMap((l) => l.machines.map((m) => ({ line: l.id, machine: m.id }))),
    }))
    registry = { doc, gateways, apiKey }
  }
  const { gateways, apiKey } = registry
  await writeFile(join(dir, 'registry.json'), JSON.stringify(registry.doc))
  const [mqttPort, httpPort] = [await freePort(), await freePort()]
  const httpUrl = `http://127.0.0.1:${httpPort}`
  const database = 'bench'
  const service = new ServiceProcess(
    { ...localServiceEnv({ dataDir: join(dir, 'service'), registryFile: join(dir, 'registry.json'), influxUrl: influxd.url, database, mqttPort, httpPort }), ...opts.env },
    httpUrl,
    opts.nodeArgs ?? [],
  )
  started(service)
  await service.start()
  return {
    influxd,
    service,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl,
    apiKey,
    gateways,
    database,
    async query(q) {
      const res = await fetch(`${influxd.url}/query?db=${database}&epoch=ms&q=${encodeURIComponent(q)}`)
      const body = (await res.json()) as { results: { error?: string; series?: { tags?: Record<string, string>; values?: unknown[][] }[] }[] }
      if (body.results[0]?.error) throw new Error(body.results[0].error)
      return body.results[0]?.series ?? []
    },
    async journal() {
      const res = await fetch(`${httpUrl}/api/v1/ingest/stats`, { headers: { authorization: `Bearer ${apiKey}` } })
      return ((await res.json()) as { journal: { unwrittenRecords: number; unwrittenBytes: number } }).journal
    },
    async dispose() {
      await service.stop()
      await influxd.stop()
      await removeTempDir(dir)
    },
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A progress line on stderr (none once the run is interrupted: it is being abandoned). */
export function progress(line: string): void {
  if (!interrupted()) process.stderr.write(`[bench] ${line}\n`)
}

/** Polls `fn` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(fn: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await Promise.resolve().then(fn).catch(() => false)) return true
    await sleep(200)
  }
  return false
}
