import pino, { type Logger } from 'pino'

/**
 * The root logger: JSON to stdout. Secrets never reach it: credentials and
 * authorization headers are redacted wherever they appear.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'iiot-ingest' },
    redact: {
      paths: ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'req.headers.authorization', 'headers.authorization', 'config.influx.password', 'config.influx.token'],
      censor: '[redacted]',
    },
  })
}
