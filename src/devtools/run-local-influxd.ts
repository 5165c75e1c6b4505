import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { lockDataDir } from '../spool/data-dir-lock.js'
import { freePort, startLocalInfluxd } from './local-influxd.js'

/**
 * Runs a local InfluxDB 1.x as a managed child process until SIGTERM:
 * `node dist/src/devtools/run-local-influxd.js --data ./data/influxdb [--port 8086]`.
 * Prints `INFLUX_URL=<url>` once it answers /ping. Used by the Quick start.
 */
const { values } = parseArgs({ options: { data: { type: 'string', default: './data/influxdb' }, port: { type: 'string' } } })

async function portOrFree(wanted: number): Promise<number> {
  // Keep the conventional port when it is free (a system InfluxDB may already hold it).
  const free = await freePort()
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(free))
    s.listen(wanted, '127.0.0.1', () => s.close(() => resolve(wanted)))
  })
}

// One influxd per data directory: a second one on the same files would corrupt them.
await mkdir(values.data!, { recursive: true })
const lock = await lockDataDir(values.data!, { waitMs: 0, name: 'the InfluxDB data directory' }).catch((err: Error) => {
  process.stderr.write(`run-local-influxd: ${err.message}\n`)
  process.exit(1)
})
const port = await portOrFree(values.port ? Number(values.port) : 8086)
const influxd = await startLocalInfluxd({ dataDir: values.data!, port, ownProcessGroup: true })
process.stdout.write(`INFLUX_URL=${influxd.url}\n`)
const stop = () => void influxd.stop().then(() => lock.release()).then(() => process.exit(0))
// SIGTERM only: a terminal's Ctrl-C reaches every process of the Quick start at once, and InfluxDB
// must outlive the service's shutdown drain; the Quick start sends SIGTERM to each in turn, InfluxDB last.
process.on('SIGINT', () => undefined)
process.on('SIGTERM', stop)
process.on('SIGHUP', stop)
