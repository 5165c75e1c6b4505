import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { loadConfig } from '../../src/config/config.js'
import { startService, type Service } from '../../src/service.js'
import { testRegistry } from './fixtures.js'

export interface TestService extends Service {
  readonly dir: string
  readonly database: string
  readonly mqttUrl: string
  readonly wsUrl: string
  readonly httpUrl: string
  readonly registryFile: string
  /** Closes the service and removes its data dir. */
  dispose(): Promise<void>
}

/**
 * The whole service on OS-assigned loopback ports, against a real InfluxDB,
 * with its own data dir and a fresh database name.
 */
export async function startTestService(influxUrl: string, opts: { env?: Record<string, string>; registry?: unknown; dir?: string; database?: string } = {}): Promise<TestService> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'iiot-svc-')))
  const registryFile = join(dir, 'registry.json')
  if (!opts.dir) await writeFile(registryFile, JSON.stringify(opts.registry ?? (await testRegistry()), null, 2))
  const database = opts.database ?? `t_${randomBytes(4).toString('hex')}`
  const config = loadConfig({
    DATA_DIR: dir,
    REGISTRY_FILE: registryFile,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    INFLUX_URL: influxUrl,
    INFLUX_DATABASE: database,
    ...opts.env,
  })
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
  const service = await startService(config, log)
  return {
    ...service,
    dir,
    database,
    registryFile,
    mqttUrl: `mqtt://127.0.0.1:${service.broker.ports.tcp}`,
    wsUrl: `ws://127.0.0.1:${service.broker.ports.ws}`,
    httpUrl: `http://127.0.0.1:${service.httpPort}`,
    async dispose() {
      await service.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Polls until `fn` returns a truthy value (or throws the last error at the deadline). */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) throw lastError ?? new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** GET an API path with a key (none: no Authorization header); `body` is parsed JSON for JSON answers, else the text. */
export async function apiGet(baseUrl: string, path: string, key: string | null): Promise<{ status: number; type: string; text: string; body: any }> {
  const res = await fetch(baseUrl + path, { headers: key ? { authorization: `Bearer ${key}` } : {} })
  const type = res.headers.get('content-type') ?? ''
  const text = await res.text()
  return { status: res.status, type, text, body: type.includes('json') ? JSON.parse(text) : text }
}
