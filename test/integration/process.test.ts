import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localServiceEnv, sourceCommand } from '../../bench/lib/service-process.js'
import { Registry } from '../../src/registry/registry.js'
import { freePort } from '../../src/devtools/local-influxd.js'
import { SECRETS, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'

// The real entry points as processes: the service (src/main.ts) and the registry CLI.
const root = new URL('../..', import.meta.url).pathname

function run(args: string[], env: Record<string, string> = {}): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill(signal: NodeJS.Signals): void; output(): string } {
  // One process per entry point (node with tsx's loader), so a signal reaches the program itself.
  const [cmd, argv] = sourceCommand(args[0]!)
  const child = spawn(cmd, [...argv, ...args.slice(1)], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })))
  return { done, kill: (s) => child.kill(s), output: () => stdout + stderr }
}

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let dir: string

beforeAll(async () => {
  influxd = await startTestInfluxd()
  dir = await mkdtemp(join(tmpdir(), 'iiot-proc-'))
})

afterAll(async () => {
  await influxd?.dispose()
  await rm(dir, { recursive: true, force: true })
})

describe('service process', () => {
  it('stops at start-up naming each bad variable', async () => {
    const { code, stderr } = await run(['src/main.ts'], { MQTT_PORT: 'abc', INFLUX_FLAVOR: 'v3' }).done
    expect(code).toBe(2)
    expect(stderr).toMatch(/MQTT_PORT: .*"abc"/)
    expect(stderr).toMatch(/INFLUX_FLAVOR: /)
  })

  it('stops at start-up naming the registry file when it is missing', async () => {
    const { code, stderr } = await run(['src/main.ts'], { REGISTRY_FILE: join(dir, 'nope.json'), INFLUX_URL: influxd.url, MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_PORT: '0' }).done
    expect(code).toBe(1)
    expect(stderr).toContain('nope.json')
  })

  it('serves, and on SIGTERM flushes what it accepted and exits 0', async () => {
    const registryFile = join(dir, 'registry.json')
    await writeFile(registryFile, JSON.stringify(await testRegistry()))
    const [mqttPort, httpPort] = [await freePort(), await freePort()]
    // info, not the default warn: the test reads the start-up and shutdown lines.
    const proc = run(['src/main.ts'], { ...localServiceEnv({ dataDir: dir, registryFile, influxUrl: influxd.url, database: 'proc', mqttPort, httpPort }), LOG_LEVEL: 'info' })
    const deadline = Date.now() + 20_000
    while (!(await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`service did not start: ${proc.output()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    // A second service on the same DATA_DIR (its own ports) would share the journal: it refuses to start.
    const second = await run(['src/main.ts'], localServiceEnv({ dataDir: dir, registryFile, influxUrl: influxd.url, database: 'proc', mqttPort: await freePort(), httpPort: await freePort() })).done
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/DATA_DIR .* is in use by process \d+ on host/)
    // Username and password swapped: refused, and the secret typed as a username is not logged.
    await expect(connectGateway(`mqtt://127.0.0.1:${mqttPort}`, SECRETS.gwA, 'gw-a')).rejects.toThrow()
    const gw = await connectGateway(`mqtt://127.0.0.1:${mqttPort}`, 'gw-a', SECRETS.gwA)
    const now = Date.now()
    await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: Array.from({ length: 20 }, (_, i) => ({ signal: `s${i}`, doubleValue: i, tsMs: now })) }))
    await gw.endAsync()
    proc.kill('SIGTERM')
    const { code, stdout } = await proc.done
    expect(code).toBe(0)
    // Released on a clean stop.
    expect(existsSync(join(dir, 'service.lock'))).toBe(false)
    const count = await influxQuery(influxd.url, 'proc', 'SELECT count("value") FROM telemetry')
    expect(count[0]?.values[0]?.[1]).toBe(20)
    // Logs are JSON lines, and carry no secrets.
    for (const l of stdout.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow()
    expect(stdout).toContain('gateway refused: bad credentials')
    expect(stdout).not.toContain(SECRETS.gwA)
  })
})

describe('registry CLI', () => {
  it('builds a registry whose printed secrets authenticate', async () => {
    const file = join(dir, 'cli-registry.json')
    const cli = (...args: string[]) => run(['src/cli/registry-cli.ts', ...args, '--file', file]).done
    expect((await cli('init')).code).toBe(0)
    expect((await cli('add-zone', '--id', 'shtp')).code).toBe(0)
    expect((await cli('add-factory', '--zone', 'shtp', '--id', 'acme')).code).toBe(0)
    expect((await cli('add-line', '--factory', 'acme', '--id', 'line-1')).code).toBe(0)
    expect((await cli('add-machine', '--factory', 'acme', '--line', 'line-1', '--id', 'cnc-7', '--ideal-cycle-time', '42')).code).toBe(0)
    const gw = await cli('add-gateway', '--id', 'gw-1', '--factory', 'acme')
    const key = await cli('add-key', '--id', 'eng', '--scope', 'factory:acme')
    const bad = await cli('add-gateway', '--id', 'gw-2', '--factory', 'nowhere')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('unknown factory "nowhere"')

    const secret = /password \(shown once\): (\S+)/.exec(gw.stdout)![1]!
    const apiKey = /Bearer (\S+)/.exec(key.stdout)![1]!
    const registry = Registry.fromJson(JSON.parse(await readFile(file, 'utf8')))
    expect(registry.machine('shtp', 'acme', 'line-1', 'cnc-7')?.machine.idealCycleTimeS).toBe(42)
    expect(await registry.authenticateGateway('gw-1', secret)).toMatchObject({ zone: 'shtp', factory: 'acme' })
    expect((await registry.authenticateApiKey(apiKey))?.scope).toEqual({ factory: 'acme' })
    expect(await readFile(file, 'utf8')).not.toContain(secret)
  })
})
