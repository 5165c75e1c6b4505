import { z } from 'zod'
import { AppError } from '../errors.js'
import { scaleOutEnvShape, scaleOutProblems, toScaleOutConfig, type ScaleOutConfig } from './scale-out-config.js'
import { int } from './env-number.js'
import { trustProxy } from './trust-proxy.js'

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')
const port = int(0, 65535)
const slugish = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only (1-64)')

/**
 * Every environment variable the service reads, with its default.
 * The configuration page (docs/configuration.md) and `.env.example` list the same set
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
  MQTT_TLS_ENABLED: bool.default(false),
  MQTT_TLS_PORT: port.default(8883),
  MQTT_WSS_ENABLED: bool.default(false),
  MQTT_WSS_PORT: port.default(8084),
  MQTT_TLS_CERT_FILE: z.string().min(1).optional(),
  MQTT_TLS_KEY_FILE: z.string().min(1).optional(),
  MQTT_TLS_CA_FILE: z.string().min(1).optional(),
  MQTT_TLS_CLIENT_AUTH: z.enum(['none', 'optional', 'required']).default('none'),
  MQTT_CONNECT_RATE: int(0, 1_000_000).default(500),
  MQTT_CONNECT_RATE_PER_ADDRESS: int(0, 1_000_000).default(50),
  MQTT_AUTH_FAILURES_PER_MIN: int(0, 1_000_000).default(30),
  MQTT_MAX_CONNECTIONS_PER_GATEWAY: int(1, 10_000).default(8),
  MQTT_PUBLISH_RATE_PER_GATEWAY: int(0, 10_000_000).default(1000),
  // At most 32 MiB: a message is journaled whole, in a record of at most 64 MiB (src/spool/record-codec.ts).
  MQTT_MAX_PACKET_BYTES: int(1024, 32 * 1024 * 1024).default(1024 * 1024),
  MQTT_MAX_TOPIC_LENGTH: int(16, 65_535).default(512),
  MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT: int(1, 1_000_000).default(100),
  MQTT_MAX_QUEUED_PER_SESSION: int(1, 10_000_000).default(1000),
  MQTT_MAX_KEEPALIVE_S: int(1, 65_535).default(1200),
  MQTT_DRAIN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  MQTT_QUEUE_LIMIT: int(1, 10_000).default(42),

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
  INFLUX_GZIP: z.enum(['auto', 'true', 'false']).default('auto'),

  JOURNAL_ENABLED: bool.default(true),
  JOURNAL_MAX_BYTES: int(1024 * 1024, 2 ** 50).default(1024 * 1024 * 1024),
  JOURNAL_SEGMENT_BYTES: int(64 * 1024, 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  JOURNAL_MIN_FREE_BYTES: int(0, 2 ** 50).default(64 * 1024 * 1024),

  WRITE_BATCH_SIZE: int(1, 100_000).default(5000),
  WRITE_MAX_IN_FLIGHT: int(1, 16).default(4),
  WRITE_LINGER_MS: int(0, 10_000).default(100),
  WRITE_RETRY_MAX_MS: int(10, 600_000).default(30_000),

  SHUTDOWN_DRAIN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  READY_WRITE_STALL_MS: int(1000, 3_600_000).default(60_000),

  INGEST_MAX_FUTURE_SKEW_MS: int(0, 86_400_000).default(300_000),
  INGEST_MAX_AGE_MS: int(60_000, 10 * 365 * 86_400_000).default(30 * 86_400_000),
  INGEST_MAX_BATCH: int(1, 100_000).default(10_000),
  INGEST_MAX_STRING_LENGTH: int(8, 65_536).default(256),
  DECODE_WORKERS: z.union([z.literal('auto'), int(0, 64)]).default('auto'),
  V8_HEAP_GROWING_PERCENT: int(0, 1000).default(50),

  SPARKPLUG_HOST_ID: z.string().regex(/^[^/+#]{1,128}$/, 'a Sparkplug id: no "/", "+" or "#"').default('iiot-ingest'),
  SPARKPLUG_REORDER_WINDOW_MS: int(0, 600_000).default(2000),
  SPARKPLUG_REORDER_MAX_MESSAGES: int(1, 255).default(64),
  SPARKPLUG_REBIRTH_MIN_INTERVAL_MS: int(0, 3_600_000).default(5000),
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
  API_RATE_LIMIT_PER_MIN: int(1, 1_000_000).default(1200),
  API_AUTH_FAILURES_PER_MIN: int(1, 100_000).default(30),
  API_CORS_ORIGINS: z.string().default(''),
  API_TRUST_PROXY: z.string().default('false').transform(trustProxy),
  MATERIAL_INDEX_MAX_MOVEMENTS: int(0, 100_000_000).default(1_000_000),
  MATERIAL_INDEX_DAYS: int(1, 3660).default(35),
  OEE_INDEX_DAYS: int(0, 366).default(8),
  ...scaleOutEnvShape,
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
    readonly tls: { readonly enabled: boolean; readonly port: number }
    readonly wss: { readonly enabled: boolean; readonly port: number }
    readonly certificates: MqttCertificates
    /** New connections accepted per second over all listeners (bursts up to twice); 0 = unlimited. */
    readonly connectRatePerS: number
    /** The same per source address; 0 = unlimited. */
    readonly connectRatePerAddressPerS: number
    readonly maxConnectionsPerGateway: number
    /** Failed secret checks per source address per minute before its CONNECTs are answered "server unavailable" without one; 0 = unlimited. */
    readonly authFailuresPerMin: number
    /** Publishes per second per gateway (bursts up to twice); 0 = unlimited. */
    readonly publishRatePerGatewayPerS: number
    readonly maxPacketBytes: number
    readonly maxTopicLength: number
    /** Topic filters one connection may hold; more get SUBACK 0x80. */
    readonly maxSubscriptionsPerClient: number
    /** QoS 1/2 messages queued for one client id (a persistent session) before more are not queued for it. */
    readonly maxQueuedPerSession: number
    readonly maxKeepaliveS: number
    readonly drainTimeoutMs: number
    readonly queueLimit: number
  }
  readonly http: { readonly host: string; readonly port: number }
  /** The Sparkplug B primary host application (docs/sparkplug.md). */
  readonly sparkplug: { readonly hostId: string; readonly reorderWindowMs: number; readonly reorderMaxMessages: number; readonly rebirthMinIntervalMs: number }
  readonly influx: InfluxConfig
  readonly journal: JournalConfig
  readonly write: WriteConfig
  readonly shutdownDrainTimeoutMs: number
  readonly readyWriteStallMs: number
  readonly ingest: IngestLimits
  /** Decode worker threads; 0: decode on the main thread; 'auto': chosen from the cores (docs/configuration.md). */
  readonly decodeWorkers: number | 'auto'
  /** How far V8's old generation grows past what its last full collection kept before the next one, in percent; 0: V8's own. */
  readonly heapGrowingPercent: number
  readonly rejections: { readonly max: number; readonly payloadBytes: number }
  readonly api: ApiConfig
  /** Embedded broker, or worker / API node behind an external broker (docs/scaling-out.md). */
  readonly scaleOut: ScaleOutConfig
}

/** PEM files for the TLS and WSS listeners; `caFile` verifies client certificates (mutual TLS). */
export interface MqttCertificates {
  readonly certFile: string | undefined
  readonly keyFile: string | undefined
  readonly caFile: string | undefined
  readonly clientAuth: 'none' | 'optional' | 'required'
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
  /** Compress write bodies: worth it over a network, pure CPU cost on loopback. */
  readonly gzip: boolean
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
  /** Requests per minute per API key. */
  readonly rateLimitPerMin: number
  /** Failed authentications per minute per client address before it gets 429 without a check. */
  readonly authFailuresPerMin: number
  /** Origins allowed by CORS; empty: CORS off. */
  readonly corsOrigins: readonly string[]
  /** Fastify's `trustProxy`: which X-Forwarded-For hops to believe for the client address. */
  readonly trustProxy: boolean | readonly string[]
  /** The movement index (docs/materials.md): movements held at most (0: none), and how far back. */
  readonly materialIndex: { readonly maxMovements: number; readonly horizonMs: number }
  readonly oeeIndexHorizonMs: number // the OEE index's horizon (docs/api.md); 0: no index
}

export interface JournalConfig {
  readonly enabled: boolean
  readonly maxBytes: number
  readonly segmentBytes: number
  /** Free bytes on the journal's disk below which it counts as full (0: only a refused write counts). */
  readonly minFreeBytes: number
}

export interface WriteConfig {
  readonly batchSize: number
  readonly lingerMs: number
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
    problems.push(...mqttProblems(e), ...scaleOutProblems(e))
  }
  if (problems.length > 0 || !parsed.success) {
    throw new AppError('IIOT_ERR_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: problems })
  }
  return deepFreeze(toConfig(parsed.data))
}

/** Cross-variable rules of the MQTT block: distinct ports, certificates for TLS, room for a full publish. */
function mqttProblems(e: Env): string[] {
  const problems: string[] = []
  const listeners = [
    ['MQTT_PORT', e.MQTT_TCP_ENABLED, e.MQTT_PORT],
    ['MQTT_WS_PORT', e.MQTT_WS_ENABLED, e.MQTT_WS_PORT],
    ['MQTT_TLS_PORT', e.MQTT_TLS_ENABLED, e.MQTT_TLS_PORT],
    ['MQTT_WSS_PORT', e.MQTT_WSS_ENABLED, e.MQTT_WSS_PORT],
  ] as const
  const taken = new Map<number, string>()
  for (const [name, enabled, port] of listeners) {
    if (!enabled || port === 0) continue
    const other = taken.get(port)
    if (other) problems.push(`${name}: must differ from ${other}`)
    else taken.set(port, name)
  }
  const tls = e.MQTT_TLS_ENABLED || e.MQTT_WSS_ENABLED
  if (tls) {
    for (const name of ['MQTT_TLS_CERT_FILE', 'MQTT_TLS_KEY_FILE'] as const) {
      if (e[name] === undefined) problems.push(`${name}: required when MQTT_TLS_ENABLED or MQTT_WSS_ENABLED is true`)
    }
  }
  if (e.MQTT_TLS_CLIENT_AUTH !== 'none') {
    if (!tls) problems.push('MQTT_TLS_CLIENT_AUTH: client certificates need MQTT_TLS_ENABLED or MQTT_WSS_ENABLED')
    if (e.MQTT_TLS_CA_FILE === undefined) problems.push(`MQTT_TLS_CA_FILE: required when MQTT_TLS_CLIENT_AUTH=${e.MQTT_TLS_CLIENT_AUTH}`)
  }
  if (!e.MQTT_TCP_ENABLED && !e.MQTT_WS_ENABLED && !tls) problems.push('MQTT_TCP_ENABLED: at least one MQTT listener must be enabled')
  // A PUBLISH carries a 2-byte topic length, the topic (UTF-8: up to 3 bytes a character) and a packet id.
  const minPacket = e.MQTT_MAX_PAYLOAD_BYTES + 3 * e.MQTT_MAX_TOPIC_LENGTH + 4
  if (e.MQTT_MAX_PACKET_BYTES < minPacket) problems.push(`MQTT_MAX_PACKET_BYTES: must be at least MQTT_MAX_PAYLOAD_BYTES + 3 × MQTT_MAX_TOPIC_LENGTH + 4 (${minPacket})`)
  return problems
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
      tls: { enabled: e.MQTT_TLS_ENABLED, port: e.MQTT_TLS_PORT },
      wss: { enabled: e.MQTT_WSS_ENABLED, port: e.MQTT_WSS_PORT },
      certificates: { certFile: e.MQTT_TLS_CERT_FILE, keyFile: e.MQTT_TLS_KEY_FILE, caFile: e.MQTT_TLS_CA_FILE, clientAuth: e.MQTT_TLS_CLIENT_AUTH },
      connectRatePerS: e.MQTT_CONNECT_RATE,
      connectRatePerAddressPerS: e.MQTT_CONNECT_RATE_PER_ADDRESS,
      maxConnectionsPerGateway: e.MQTT_MAX_CONNECTIONS_PER_GATEWAY,
      authFailuresPerMin: e.MQTT_AUTH_FAILURES_PER_MIN,
      publishRatePerGatewayPerS: e.MQTT_PUBLISH_RATE_PER_GATEWAY,
      maxPacketBytes: e.MQTT_MAX_PACKET_BYTES,
      maxTopicLength: e.MQTT_MAX_TOPIC_LENGTH,
      maxSubscriptionsPerClient: e.MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT,
      maxQueuedPerSession: e.MQTT_MAX_QUEUED_PER_SESSION,
      maxKeepaliveS: e.MQTT_MAX_KEEPALIVE_S,
      drainTimeoutMs: e.MQTT_DRAIN_TIMEOUT_MS,
      queueLimit: e.MQTT_QUEUE_LIMIT,
    },
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    sparkplug: { hostId: e.SPARKPLUG_HOST_ID, reorderWindowMs: e.SPARKPLUG_REORDER_WINDOW_MS, reorderMaxMessages: e.SPARKPLUG_REORDER_MAX_MESSAGES, rebirthMinIntervalMs: e.SPARKPLUG_REBIRTH_MIN_INTERVAL_MS },
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
      gzip: e.INFLUX_GZIP === 'auto' ? !isLoopback(e.INFLUX_URL) : e.INFLUX_GZIP === 'true',
    },
    journal: { enabled: e.JOURNAL_ENABLED, maxBytes: e.JOURNAL_MAX_BYTES, segmentBytes: e.JOURNAL_SEGMENT_BYTES, minFreeBytes: e.JOURNAL_MIN_FREE_BYTES },
    write: { batchSize: e.WRITE_BATCH_SIZE, lingerMs: e.WRITE_LINGER_MS, maxInFlight: e.WRITE_MAX_IN_FLIGHT, retryMaxMs: e.WRITE_RETRY_MAX_MS },
    shutdownDrainTimeoutMs: e.SHUTDOWN_DRAIN_TIMEOUT_MS,
    readyWriteStallMs: e.READY_WRITE_STALL_MS,
    ingest: { maxFutureSkewMs: e.INGEST_MAX_FUTURE_SKEW_MS, maxAgeMs: e.INGEST_MAX_AGE_MS, maxBatch: e.INGEST_MAX_BATCH, maxStringLength: e.INGEST_MAX_STRING_LENGTH },
    decodeWorkers: e.DECODE_WORKERS,
    heapGrowingPercent: e.V8_HEAP_GROWING_PERCENT,
    rejections: { max: e.REJECTIONS_MAX, payloadBytes: e.REJECTIONS_PAYLOAD_BYTES },
    api: {
      maxWindowMs: e.API_MAX_WINDOW_DAYS * 86_400_000,
      maxPoints: e.API_MAX_POINTS,
      latestLookbackMs: e.API_LATEST_LOOKBACK_HOURS * 3_600_000,
      stateLookbackMs: e.API_STATE_LOOKBACK_DAYS * 86_400_000,
      liveSeedLookbackMs: e.API_STATE_LOOKBACK_DAYS * 86_400_000,
      offlineAfterMs: e.MACHINE_OFFLINE_AFTER_S * 1000,
      sse: { bufferEvents: e.SSE_BUFFER_EVENTS, clientQueueEvents: e.SSE_CLIENT_QUEUE_EVENTS, heartbeatMs: e.SSE_HEARTBEAT_S * 1000 },
      rateLimitPerMin: e.API_RATE_LIMIT_PER_MIN,
      authFailuresPerMin: e.API_AUTH_FAILURES_PER_MIN,
      corsOrigins: e.API_CORS_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o.length > 0),
      trustProxy: e.API_TRUST_PROXY,
      materialIndex: { maxMovements: e.MATERIAL_INDEX_MAX_MOVEMENTS, horizonMs: e.MATERIAL_INDEX_DAYS * 86_400_000 },
      oeeIndexHorizonMs: e.OEE_INDEX_DAYS * 86_400_000,
    },
    scaleOut: toScaleOutConfig(e),
  }
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
