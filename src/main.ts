// First: mqtt-packet must find the quiet `debug` when Aedes loads it (see quiet-debug.ts).
import './broker/quiet-debug.js'
import { loadConfig } from './config/config.js'
import { setFlagsFromString } from 'node:v8'
import { isAppError } from './errors.js'
import { createLogger } from './logger.js'
import { startService, stopLimitMs } from './service.js'

/** Entry point: environment -> config -> service; SIGHUP reloads the registry and TLS certificates, SIGTERM/SIGINT stop gracefully. */
async function main(): Promise<void> {
  let config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    // Config errors name the variable; print them plainly and stop.
    process.stderr.write(`iiot-ingest: ${isAppError(err) ? err.message : String(err)}\n`)
    process.exit(2)
  }
  // V8 on a machine with memory to spare lets its old generation grow to 4x what its last full
  // collection kept before the next; under a flood that made most of the peak RSS (docs/configuration.md).
  // The flag is read at every full collection, so setting it here, before the service starts, applies.
  if (config.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`)
  const log = createLogger(config.logLevel)
  let service
  try {
    service = await startService(config, log)
  } catch (err) {
    log.fatal({ err: isAppError(err) ? { code: err.code, message: err.message } : err }, 'start-up failed')
    process.stderr.write(`iiot-ingest: start-up failed: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const s = service
  process.on('SIGHUP', () => {
    void s.registry.reload()
    void s.broker.reloadCertificates()
  })
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    // The journal's drain, a request to InfluxDB still in flight, and a margin for the rest: past
    // that the stop is stuck, and says so (docs/operations.md, "Stopping").
    const limitMs = stopLimitMs(config)
    log.info({ signal, limitMs }, 'shutting down')
    const hard = setTimeout(() => {
      log.error({ limitMs }, 'shutdown did not finish in time; exiting (the journal is replayed on the next start)')
      process.exit(1)
    }, limitMs)
    hard.unref()
    s.close().then(
      () => {
        log.info('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

void main()
