import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'

/**
 * A throwaway InfluxDB 1.x (Debian's `influxd`) on loopback, for tests, the
 * bench and the Quick start: its own data directory, free ports, no
 * reporting, quiet logs. Not for production.
 */
export interface LocalInfluxd {
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>
  /** Starts it again on the same port and data (for outage tests). */
  restart(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function configToml(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  max-series-per-database = 10000000

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  max-body-size = 0

[logging]
  level = "warn"

[continuous_queries]
  enabled = false
`
}

/**
 * `ownProcessGroup`: influxd gets a process group of its own, so a terminal's Ctrl-C (sent to the
 * whole foreground group) does not stop it before the service has written its journal to it; the
 * caller stops it with `stop()`.
 */
export async function startLocalInfluxd(opts: { dataDir: string; port?: number; binary?: string; startTimeoutMs?: number; pickPort?: () => Promise<number>; ownProcessGroup?: boolean }): Promise<LocalInfluxd> {
  const pickPort = opts.pickPort ?? freePort
  const binary = opts.binary ?? process.env.INFLUXD_BIN ?? 'influxd'
  await mkdir(opts.dataDir, { recursive: true })
  let port = opts.port ?? (await pickPort())
  let rpcPort = await pickPort()
  const configPath = join(opts.dataDir, 'influxdb.conf')
  await writeFile(configPath, configToml(opts.dataDir, port, rpcPort))
  let url = `http://127.0.0.1:${port}`
  let child: ChildProcess | undefined

  const start = async () => {
    const proc = spawn(binary, ['run', '-config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], detached: opts.ownProcessGroup === true })
    child = proc
    let stderr = ''
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message} (install it: apt-get install -y influxdb)`)))
      proc.once('exit', (code) => reject(new Error(`influxd exited with ${code} before it was ready: ${stderr}`)))
    })
    exited.catch(() => undefined)
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000)
    while (Date.now() < deadline) {
      const ok = await Promise.race([ping(url), exited])
      if (ok) return
      await new Promise((r) => setTimeout(r, 100))
    }
    proc.kill('SIGKILL')
    throw new Error(`influxd did not answer /ping on ${url} within the start timeout: ${stderr}`)
  }

  const stop = async () => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      proc.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      proc.kill('SIGTERM')
    })
  }

  // Unless the caller chose the port, each new attempt picks new ones.
  await retryWhilePortTaken(async (attempt) => {
    if (attempt > 1) {
      port = await pickPort()
      rpcPort = await pickPort()
      url = `http://127.0.0.1:${port}`
      await writeFile(configPath, configToml(opts.dataDir, port, rpcPort))
    }
    await start()
  }, opts.port !== undefined ? 1 : 5)
  return { url, port, dataDir: opts.dataDir, stop, restart: start }
}

/**
 * Runs `start` again while it fails with "address already in use", at most `attempts` times in all: a
 * port freePort() found can be taken by another process before the server binds it (parallel test
 * files do this all the time), so each attempt picks its ports afresh.
 */
export async function retryWhilePortTaken<T>(start: (attempt: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(attempt)
    } catch (err) {
      if (attempt >= attempts || !/address already in use/i.test((err as Error).message)) throw err
    }
  }
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
    return res.status === 204
  } catch {
    return false
  }
}
