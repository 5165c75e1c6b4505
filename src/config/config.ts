import { z } from 'zod'
import { AppError } from '../errors.js'

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max)
const port = int(0, 65535)
const slugish = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only (1-64)')

/**
 * Every environment variable the service reads, with its default.
 * The README's configuration table and `.env.example` list the same set
 * (test/unit/config-docs.test.ts keeps them in step).
 */
export const envSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('./data'),
  REGISTRY_FILE: z.string().min(1).default('./data/registry.json'),

  MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  MQTT_TCP_ENABLED: bool.default(true),
  MQTT_PORT: port.default(1883),
  MQTT_WS_ENABLED: bool.default(true),
  MQTT_WS_PORT: port.default(8083),
  MQTT_MAX_PAYLOAD_BYTES: int(64, 16 * 1024 * 1024).default(256 * 1024),
  MQTT_MAX_TOPIC_LEVELS: int(1, 100).default(10),
  MQTT_MAX_CLIENT_ID_LENGTH: int(1, 65535).default(64),
  MQTT_CONNECT_TIMEOUT_MS: int(100, 600_000).default(30_000),

  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: port.default(8080),

  INFLUX_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8086'),
  INFLUX_FLAVOR: z.enum(['v1', 'v2']).default('v1'),
  INFLUX_DATABASE: slugish.default('iiot'),
  INFLUX_RETENTION_POLICY: slugish.default('autogen'),
  INFLUX_USERNAME: z.string().optional(),
  INFLUX_PASSWORD: z.string().optional(),
  INFLUX_ORG: z.string().min(1).optional(),
  INFLUX_BUCKET: z.string().min(1).optional(),
  INFLUX_TOKEN: z.string().min(1).optional(),
  INFLUX_TIMEOUT_MS: int(100, 120_000).default(10_000),

  JOURNAL_ENABLED: bool.default(true),
  JOURNAL_MAX_BYTES: int(1024 * 1024, 2 ** 50).default(1024 * 1024 * 1024),
  JOURNAL_SEGMENT_BYTES: int(64 * 1024, 1024 * 1024 * 1024).default(64 * 1024 * 1024),

  WRITE_BATCH_SIZE: int(1, 100_000).default(5000),
  WRITE_MAX_IN_FLIGHT: int(1, 16).default(2),
  WRITE_RETRY_MAX_MS: int(10, 600_000).default(30_000),

  SHUTDOWN_DRAIN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  READY_WRITE_STALL_MS: int(1000, 3_600_000).default(60_000),

  INGEST_MAX_FUTURE_SKEW_MS: int(0, 86_400_000).default(300_000),
  INGEST_MAX_AGE_MS: int(60_000, 10 * 365 * 86_400_000).default(30 * 86_400_000),
  INGEST_MAX_BATCH: int(1, 100_000).default(10_000),
  INGEST_MAX_STRING_LENGTH: int(8, 65_536).default(256),

  REJECTIONS_MAX: int(1, 1_000_000).default(1000),
  REJECTIONS_PAYLOAD_BYTES: int(0, 65_536).default(1024),

  API_MAX_WINDOW_DAYS: int(1, 3660).default(400),
  API_MAX_POINTS: int(10, 1_000_000).default(10_000),
  API_LATEST_LOOKBACK_HOURS: int(1, 24 * 3660).default(24 * 7),
  API_STATE_LOOKBACK_DAYS: int(1, 3660).default(30),
  MACHINE_OFFLINE_AFTER_S: int(1, 86_400).default(300),
  SSE_BUFFER_EVENTS: int(0, 100_000).default(1000),
  SSE_CLIENT_QUEUE_EVENTS: int(1, 100_000).default(1000),
  SSE_HEARTBEAT_S: int(1, 3600).default(15),
})

export type Env = z.infer<typeof envSchema>

export interface Config {
  readonly logLevel: Env['LOG_LEVEL']
  readonly dataDir: string
  readonly registryFile: string
  readonly mqtt: {
    readonly host: string
    readonly tcp: { readonly enabled: boolean; readonly port: number }
    readonly ws: { readonly enabled: boolean; readonly port: number }
    readonly maxPayloadBytes: number
    readonly maxTopicLevels: number
    readonly maxClientIdLength: number
    readonly connectTimeoutMs: number
  }
  readonly http: { readonly host: string; readonly port: number }
  readonly influx: InfluxConfig
  readonly journal: JournalConfig
  readonly write: WriteConfig
  readonly shutdownDrainTimeoutMs: number
  readonly readyWriteStallMs: number
  readonly ingest: IngestLimits
  readonly rejections: { readonly max: number; readonly payloadBytes: number }
  readonly api: ApiConfig
}

export interface InfluxConfig {
  readonly url: string
  readonly flavor: 'v1' | 'v2'
  readonly database: string
  readonly retentionPolicy: string
  readonly username: string | undefined
  readonly password: string | undefined
  readonly org: string | undefined
  readonly bucket: string | undefined
  readonly token: string | undefined
  readonly timeoutMs: number
}

export interface ApiConfig {
  readonly maxWindowMs: number
  readonly maxPoints: number
  readonly latestLookbackMs: number
  /** How far back to look for the state in force at a window's start, and to seed the live table. */
  readonly stateLookbackMs: number
  readonly liveSeedLookbackMs: number
  readonly offlineAfterMs: number
  readonly sse: { readonly bufferEvents: number; readonly clientQueueEvents: number; readonly heartbeatMs: number }
}

export interface JournalConfig {
  readonly enabled: boolean
  readonly maxBytes: number
  readonly segmentBytes: number
}

export interface WriteConfig {
  readonly batchSize: number
  readonly maxInFlight: number
  readonly retryMaxMs: number
}

export interface IngestLimits {
  readonly maxFutureSkewMs: number
  readonly maxAgeMs: number
  readonly maxBatch: number
  readonly maxStringLength: number
}

/**
 * Reads the configuration from an environment map. Pure: the caller passes
 * `process.env`. Every bad variable is reported at once, by name.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned: Record<string, string> = {}
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key]
    if (value !== undefined && value !== '') cleaned[key] = value
  }
  const parsed = envSchema.safeParse(cleaned)
  const problems: string[] = []
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '?')
      problems.push(`${name}: ${issue.message} (got ${JSON.stringify(cleaned[name] ?? null)})`)
    }
  } else {
    const e = parsed.data
    if (e.INFLUX_FLAVOR === 'v2') {
      for (const name of ['INFLUX_ORG', 'INFLUX_BUCKET', 'INFLUX_TOKEN'] as const) {
        if (e[name] === undefined) problems.push(`${name}: required when INFLUX_FLAVOR=v2`)
      }
    }
    if ((e.INFLUX_USERNAME === undefined) !== (e.INFLUX_PASSWORD === undefined)) {
      problems.push('INFLUX_USERNAME: INFLUX_USERNAME and INFLUX_PASSWORD must be set together')
    }
    if (e.MQTT_TCP_ENABLED && e.MQTT_WS_ENABLED && e.MQTT_PORT === e.MQTT_WS_PORT && e.MQTT_PORT !== 0) {
      problems.push('MQTT_WS_PORT: must differ from MQTT_PORT')
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new AppError('IIOT_ERR_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: problems })
  }
  return deepFreeze(toConfig(parsed.data))
}

function toConfig(e: Env): Config {
  return {
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    registryFile: e.REGISTRY_FILE,
    mqtt: {
      host: e.MQTT_HOST,
      tcp: { enabled: e.MQTT_TCP_ENABLED, port: e.MQTT_PORT },
      ws: { enabled: e.MQTT_WS_ENABLED, port: e.MQTT_WS_PORT },
      maxPayloadBytes: e.MQTT_MAX_PAYLOAD_BYTES,
      maxTopicLevels: e.MQTT_MAX_TOPIC_LEVELS,
      maxClientIdLength: e.MQTT_MAX_CLIENT_ID_LENGTH,
      connectTimeoutMs: e.MQTT_CONNECT_TIMEOUT_MS,
    },
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    influx: {
      url: e.INFLUX_URL.replace(/\/+$/, ''),
      flavor: e.INFLUX_FLAVOR,
      database: e.INFLUX_DATABASE,
      retentionPolicy: e.INFLUX_RETENTION_POLICY,
      username: e.INFLUX_USERNAME,
      password: e.INFLUX_PASSWORD,
      org: e.INFLUX_ORG,
      bucket: e.INFLUX_BUCKET,
      token: e.INFLUX_TOKEN,
      timeoutMs: e.INFLUX_TIMEOUT_MS,
    },
    journal: { enabled: e.JOURNAL_ENABLED, maxBytes: e.JOURNAL_MAX_BYTES, segmentBytes: e.JOURNAL_SEGMENT_BYTES },
    write: { batchSize: e.WRITE_BATCH_SIZE, maxInFlight: e.WRITE_MAX_IN_FLIGHT, retryMaxMs: e.WRITE_RETRY_MAX_MS },
    shutdownDrainTimeoutMs: e.SHUTDOWN_DRAIN_TIMEOUT_MS,
    readyWriteStallMs: e.READY_WRITE_STALL_MS,
    ingest: {
      maxFutureSkewMs: e.INGEST_MAX_FUTURE_SKEW_MS,
      maxAgeMs: e.INGEST_MAX_AGE_MS,
      maxBatch: e.INGEST_MAX_BATCH,
      maxStringLength: e.INGEST_MAX_STRING_LENGTH,
    },
    rejections: { max: e.REJECTIONS_MAX, payloadBytes: e.REJECTIONS_PAYLOAD_BYTES },
    api: {
      maxWindowMs: e.API_MAX_WINDOW_DAYS * 86_400_000,
      maxPoints: e.API_MAX_POINTS,
      latestLookbackMs: e.API_LATEST_LOOKBACK_HOURS * 3_600_000,
      stateLookbackMs: e.API_STATE_LOOKBACK_DAYS * 86_400_000,
      liveSeedLookbackMs: e.API_STATE_LOOKBACK_DAYS * 86_400_000,
      offlineAfterMs: e.MACHINE_OFFLINE_AFTER_S * 1000,
      sse: { bufferEvents: e.SSE_BUFFER_EVENTS, clientQueueEvents: e.SSE_CLIENT_QUEUE_EVENTS, heartbeatMs: e.SSE_HEARTBEAT_S * 1000 },
    },
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
