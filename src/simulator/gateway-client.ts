import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { gatewayTopic, machineTopic, type MachineKind } from '../domain/topic.js'
import type { MessageTypes } from '../pipeline/proto-schema.js'
import { createSequencer, encodeMessage } from './codec.js'
import type { BodyOf, MessageBody } from './messages.js'
import type { Stats } from './stats.js'

export interface GatewayIdentity {
  readonly id: string
  readonly secret: string
  readonly zone: string
  readonly factory: string
}

export interface GatewayClientOptions {
  readonly url: string
  readonly gateway: GatewayIdentity
  readonly qos: 0 | 1
  readonly types: MessageTypes
  readonly stats: Stats
  readonly log: (line: string) => void
  /** Unconfirmed publishes beyond which new messages are skipped, so a stalled broker cannot exhaust memory. */
  readonly maxInFlight?: number
  readonly reconnectPeriodMs?: number
}

export interface GatewayClient {
  readonly id: string
  isConnected(): boolean
  publishMachine(line: string, machine: string, body: Extract<MessageBody, { kind: MachineKind }>, sentTsMs: number): void
  publishConnectivity(body: BodyOf<'connectivity'>, sentTsMs: number): void
  /** Waits up to `timeoutMs` for unconfirmed publishes, then disconnects. Never rejects. */
  end(timeoutMs: number): Promise<void>
}

const ERROR_LOG_INTERVAL_MS = 60_000

/**
 * One gateway's MQTT session with its registry credentials. mqtt.js retries
 * the connection every `reconnectPeriodMs`, also after a refused CONNACK (bad
 * credentials), so a gateway registered later starts publishing by itself.
 */
export function createGatewayClient(opts: GatewayClientOptions): GatewayClient {
  const { gateway, stats, log, types, qos } = opts
  const maxInFlight = opts.maxInFlight ?? 10_000
  const reconnectPeriod = opts.reconnectPeriodMs ?? 5_000
  const nextSeq = createSequencer()
  let inFlight = 0
  let wasConnected = false
  let lastError = { message: '', atMs: 0 }

  const options: IClientOptions = {
    clientId: `${gateway.id}-sim`,
    username: gateway.id,
    password: gateway.secret,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod,
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
  }
  const client: MqttClient = connect(opts.url, options)

  client.on('connect', () => {
    wasConnected = true
    lastError = { message: '', atMs: 0 }
    log(`${gateway.id}: connected to ${opts.url}`)
  })
  client.on('error', (err: Error & { code?: string | number }) => {
    // The same refusal repeats every retry; say it once a minute, not every five seconds.
    const message = err.message || String(err.code)
    const now = Date.now()
    if (message === lastError.message && now - lastError.atMs < ERROR_LOG_INTERVAL_MS) return
    lastError = { message, atMs: now }
    log(`${gateway.id}: connection failed: ${message}; retrying every ${reconnectPeriod / 1000} s`)
  })
  client.on('offline', () => {
    if (wasConnected) log(`${gateway.id}: disconnected; retrying every ${reconnectPeriod / 1000} s`)
    wasConnected = false
  })

  function publish(topic: string, body: MessageBody, sentTsMs: number): void {
    // Telemetry is only worth sending live; the rarer kinds wait in mqtt.js's offline queue (bounded by maxInFlight).
    if ((!client.connected && body.kind === 'telemetry') || inFlight >= maxInFlight) {
      stats.skipped++
      return
    }
    let payload: Uint8Array
    try {
      payload = encodeMessage(types, body, nextSeq(topic), sentTsMs)
    } catch (err) {
      stats.errors++
      log(`${gateway.id}: cannot encode ${body.kind}: ${(err as Error).message}`)
      return
    }
    stats.published++
    stats.byKind[body.kind]++
    inFlight++
    client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos }, (err) => {
      inFlight--
      if (err) stats.errors++
      else stats.acked++
    })
  }

  return {
    id: gateway.id,
    isConnected: () => client.connected,
    publishMachine(line, machine, body, sentTsMs) {
      publish(machineTopic({ zone: gateway.zone, factory: gateway.factory, line, machine, kind: body.kind }), body, sentTsMs)
    },
    publishConnectivity(body, sentTsMs) {
      publish(gatewayTopic({ zone: gateway.zone, factory: gateway.factory, gateway: gateway.id, kind: 'connectivity' }), body, sentTsMs)
    },
    async end(timeoutMs) {
      const deadline = Date.now() + timeoutMs
      while (inFlight > 0 && client.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      try {
        // Forced only if acks are still missing: a clean end would wait for them indefinitely.
        await client.endAsync(inFlight > 0)
      } catch (err) {
        log(`${gateway.id}: error while disconnecting: ${(err as Error).message}`)
      }
    },
  }
}
