import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { processRunning } from '../../src/proc-stat.js'

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/dist\/?$/, '')

/** Where a throwaway service keeps its data and finds its registry and InfluxDB, and its loopback ports. */
export interface LocalServicePlaces {
  readonly dataDir: string
  readonly registryFile: string
  readonly influxUrl: string
  readonly database: string
  readonly mqttPort: number
  readonly httpPort: number
}

/** The environment of a service the bench or a test starts: loopback only, no WebSocket listener, quiet logs. */
export function localServiceEnv(p: LocalServicePlaces): Record<string, string> {
  return {
    DATA_DIR: p.dataDir,
    REGISTRY_FILE: p.registryFile,
    INFLUX_URL: p.influxUrl,
    INFLUX_DATABASE: p.database,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(p.mqttPort),
    MQTT_WS_ENABLED: 'false',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(p.httpPort),
    LOG_LEVEL: 'warn',
  }
}

/**
 * How to run a TypeScript entry point as ONE process: node with tsx's loader.
 * The `tsx` command would start a wrapper that spawns node as its child, so a
 * SIGKILL meant for the program would kill only the wrapper and leave the
 * program running, orphaned, with its ports.
 */
export function sourceCommand(script: string, nodeArgs: readonly string[] = []): [string, string[]] {
  const loader = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
  return [process.execPath, [...nodeArgs, '--import', loader, script]]
}

/** Whether a process with this PID exists (a zombie not yet reaped counts as gone). */
export const processExists = processRunning

/**
 * The service as a separate process (as operators run it), for crash tests
 * and benches: compiled `dist/src/main.js` when built, else `src/main.ts`
 * through tsx's loader; either way the child PID is the service itself.
 * Its stdout/stderr are kept (bounded) for diagnostics.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined
  private output = ''

  constructor(
    private readonly env: Record<string, string>,
    private readonly httpUrl: string,
    /** Extra node options for the service (e.g. --cpu-prof, which Node 20 refuses in NODE_OPTIONS). */
    private readonly nodeArgs: readonly string[] = [],
  ) {}

  static projectRoot(): string {
    return root
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const compiled = join(root, 'dist', 'src', 'main.js')
    const useDist = existsSync(compiled) && process.env.IIOT_SERVICE_FROM_SOURCE !== '1'
    const [cmd, args] = useDist ? [process.execPath, [...this.nodeArgs, compiled]] : sourceCommand(join(root, 'src', 'main.ts'), this.nodeArgs)
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    // BENCH_SERVICE_OUTPUT=FILE also appends everything the service prints to FILE (e.g. --node-arg=--trace-gc).
    const copy = process.env.BENCH_SERVICE_OUTPUT ? createWriteStream(process.env.BENCH_SERVICE_OUTPUT, { flags: 'a' }) : undefined
    if (copy) child.once('exit', () => copy.end())
    const keep = (d: Buffer) => {
      copy?.write(d)
      this.output = (this.output + d.toString()).slice(-20_000)
    }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${this.output}`)
      const ok = await fetch(`${this.httpUrl}/healthz`).then((r) => r.ok, () => false)
      if (ok) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`service did not start within ${timeoutMs} ms: ${this.output}`)
  }

  /**
   * SIGKILL: no shutdown code runs, as in a power cut of the process.
   * Resolves once the process is reaped; throws if its PID still exists.
   */
  async kill(): Promise<void> {
    const pid = this.child?.pid
    await this.signal('SIGKILL')
    if (pid !== undefined && processExists(pid)) throw new Error(`service process ${pid} survived SIGKILL`)
  }

  /** SIGTERM: the graceful path; resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM')
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill(sig)
    return exited
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  logs(): string {
    return this.output
  }
}
