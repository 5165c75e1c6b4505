import { hostname } from 'node:os'
import { z } from 'zod'
import { int } from './env-number.js'

// An MQTT topic filter level or client id we build topics from: no wildcards, no separators.
const level = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . and - only (1-64)')

/**
 * The scale-out variables (docs/scaling-out.md): which roles this process plays, and the
 * external broker a worker or API node connects to. Spread into `envSchema` (config.ts).
 */
export const scaleOutEnvShape = {
  SERVICE_MODE: z.enum(['embedded', 'worker', 'api', 'worker+api']).default('embedded'),
  BROKER_URL: z.url({ protocol: /^mqtts?$/ }).default('mqtt://127.0.0.1:1883'),
  BROKER_USERNAME: z.string().min(1).optional(),
  BROKER_PASSWORD: z.string().min(1).optional(),
  BROKER_CA_FILE: z.string().min(1).optional(),
  BROKER_CLIENT_ID: level.optional(),
  BROKER_SHARE_GROUP: level.default('iiot-ingest'),
  BROKER_CONNECTIONS: int(1, 64).default(16),
  BROKER_ANNOUNCE_TOPIC: z.string().regex(/^[A-Za-z0-9_/-]{1,128}$/, 'a topic without wildcards').default('iiot-internal/v1/accepted'),
  BROKER_AUTH_SECRET: z.string().min(16).optional(),
}

type ScaleOutEnv = z.infer<z.ZodObject<typeof scaleOutEnvShape>>

export interface ScaleOutConfig {
  readonly mode: 'embedded' | 'worker' | 'api' | 'worker+api'
  /** Gateways connect to our embedded broker (SERVICE_MODE=embedded). */
  readonly embeddedBroker: boolean
  /** Messages come from an external broker through a shared subscription. */
  readonly worker: boolean
  /** The live table and stream come from every worker's announcements. */
  readonly apiFeed: boolean
  readonly broker: {
    readonly url: string
    readonly username: string | undefined
    readonly password: string | undefined
    readonly caFile: string | undefined
    /** Stable across restarts: the broker keeps the session (and what it holds) under it. */
    readonly clientId: string
    readonly shareGroup: string
    /** Connections (each its own session) per worker: mqtt.js hands one message at a time per connection. */
    readonly connections: number
    readonly announceTopic: string
  }
  /** Shared secret of the broker-facing HTTP auth endpoint; undefined: endpoint off. */
  readonly authSecret: string | undefined
}

export function scaleOutProblems(e: ScaleOutEnv): string[] {
  const problems: string[] = []
  if ((e.BROKER_USERNAME === undefined) !== (e.BROKER_PASSWORD === undefined)) problems.push('BROKER_USERNAME: BROKER_USERNAME and BROKER_PASSWORD must be set together')
  return problems
}

export function toScaleOutConfig(e: ScaleOutEnv): ScaleOutConfig {
  return {
    mode: e.SERVICE_MODE,
    embeddedBroker: e.SERVICE_MODE === 'embedded',
    worker: e.SERVICE_MODE === 'worker' || e.SERVICE_MODE === 'worker+api',
    apiFeed: e.SERVICE_MODE === 'api' || e.SERVICE_MODE === 'worker+api',
    broker: {
      url: e.BROKER_URL,
      username: e.BROKER_USERNAME,
      password: e.BROKER_PASSWORD,
      caFile: e.BROKER_CA_FILE,
      clientId: e.BROKER_CLIENT_ID ?? `iiot-worker-${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40)}`,
      shareGroup: e.BROKER_SHARE_GROUP,
      connections: e.BROKER_CONNECTIONS,
      announceTopic: e.BROKER_ANNOUNCE_TOPIC,
    },
    authSecret: e.BROKER_AUTH_SECRET,
  }
}
