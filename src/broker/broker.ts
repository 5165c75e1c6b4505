import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { Aedes, type Client } from 'aedes'
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { RegistrySource } from '../registry/registry-store.js'
import { certificateIdentity } from './client-cert.js'
import { sessionExists, type SessionStore } from './client-id-owners.js'
import { createConnectionGate } from './connection-gate.js'
import { Forwarding, skipUnreachable } from './forwarding.js'
import { createGatewayHooks } from './gateway-auth.js'
import { createLimitReporter, createThrottledWarn, limitOfAedesError } from './limit-reporter.js'
import { startListener, type Listener, type ListenerKind } from './listeners.js'
import { guardPacketSize } from './packet-size-guard.js'
import { guardProtocolLevel } from './protocol-level-guard.js'
import { installPubackWriter } from './puback-writer.js'
import { capSessionQueues, type OutgoingQueues } from './session-queue-cap.js'
import { readPublishesWhole, type PacketParser } from './publish-reader.js'
import { followReleases, Qos2Receipts, type IncomingStore } from './qos2-receipts.js'
import { readTlsMaterial, secureContextOptions, warnIfExpiring, watchTlsFiles } from './tls-context.js'

export interface BrokerHandle {
  readonly aedes: Aedes
  /** Bound ports (useful when configured as 0); undefined for a disabled listener. */
  readonly ports: { readonly [K in ListenerKind]: number | undefined }
  /** Distinct client ids a gateway holds open (0 when none); without an id, over all gateways. */
  connectionsOf(gatewayId?: string): number
  /** Client ids bound to a gateway: held by a connection or kept by a persistent session (docs/security.md). */
  ownedClientIds(): number
  /** QoS 2 messages journaled and awaiting their PUBREL, over all client ids (docs/delivery.md). */
  qos2Awaiting(): number
  /** Re-reads the certificate files (also done on change); resolves true when the new ones are in force. */
  reloadCertificates(): Promise<boolean>
  /** Stops accepting, disconnects clients, and resolves when the listeners are closed. */
  close(): Promise<void>
}

/** Inbound QoS 2 messages awaiting PUBREL per client id (docs/security.md); Aedes' default, set here so the journal's receipts share it. */
const MAX_INFLIGHT_QOS2 = 1000

export interface BrokerDeps {
  readonly registry: RegistrySource
  readonly ingestor: Ingestor
  readonly metrics: Metrics
  readonly log: Logger
}

/** The embedded Aedes broker with its TCP, TLS, WebSocket and secure WebSocket listeners. */
export async function startBroker(config: Config['mqtt'], deps: BrokerDeps): Promise<BrokerHandle> {
  const { log, metrics } = deps
  const report = createLimitReporter(metrics, log)
  const warn = createThrottledWarn(log)
  const secure = config.tls.enabled || config.wss.enabled
  // Unreadable or mismatched files stop start-up here, naming their variables.
  let material = secure ? await readTlsMaterial(config.certificates) : undefined
  if (material) warnIfExpiring(material, log)

  // Asked only when a connection closes, so after `aedes` below exists.
  const persistence = () => (aedes as unknown as { persistence: SessionStore }).persistence
  const qos2 = new Qos2Receipts(MAX_INFLIGHT_QOS2)
  // Each PUBACK as one four-byte chunk (puback-writer.ts); what the gateways receive is unchanged.
  installPubackWriter()
  const forwarding = new Forwarding()
  const hooks = createGatewayHooks({ ...deps, report, qos2, forwarding, limits: config, sessionExists: (id) => sessionExists(persistence(), id) })
  const aedes = await Aedes.createBroker({
    preConnect: hooks.preConnect,
    authenticate: hooks.authenticate,
    authorizePublish: hooks.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe,
    connectTimeout: config.connectTimeoutMs,
    maxTopicLevels: config.maxTopicLevels,
    maxClientsIdLength: config.maxClientIdLength,
    // A subscriber whose socket does not drain within this is disconnected, so it cannot stall delivery to others.
    drainTimeout: config.drainTimeoutMs,
    // Packets a client may send before its CONNECT has been processed.
    queueLimit: config.queueLimit,
    // Keepalive bounds are ours (gateway-auth.ts): Aedes' keepaliveLimit answers CONNACK 6, which MQTT 3.1.1 does not define.
    keepaliveLimit: 0,
    maxInflightInbound: MAX_INFLIGHT_QOS2,
  })
  skipUnreachable(aedes, forwarding)
  // A QoS 2 receipt ends where Aedes ends its receive state: PUBREL, or a clean session.
  followReleases((aedes as unknown as { persistence: IncomingStore }).persistence, qos2)
  // A persistent session's queue is bounded (docs/security.md); a full one is reported once a second at most (the reporter's sampling).
  capSessionQueues((aedes as unknown as { persistence: OutgoingQueues }).persistence, config.maxQueuedPerSession, (clientId) => report('session_queue', { clientId, max: config.maxQueuedPerSession }))
  aedes.on('clientReady', () => metrics.clients.set(aedes.connectedClients))
  aedes.on('clientDisconnect', () => metrics.clients.set(aedes.connectedClients))
  // Aedes can report one cause many times (a drain timeout fails every pending write); count it once per client.
  const reported = new WeakMap<object, Set<string>>()
  const onClientError = (client: { id: string | null }, err: Error) => {
    const limit = limitOfAedesError(err.message)
    if (!limit) return log.debug({ clientId: client.id, err: err.message }, 'client error')
    let seen = reported.get(client)
    if (!seen) reported.set(client, (seen = new Set()))
    if (seen.has(limit)) return
    seen.add(limit)
    report(limit, { clientId: client.id })
  }
  aedes.on('clientError', onClientError)
  aedes.on('connectionError', onClientError)

  const handle = (stream: Duplex, req: IncomingMessage | undefined, tlsSocket: TLSSocket | undefined) => {
    guardPacketSize(stream, config.maxPacketBytes, (declaredBytes) => report('packet_size', { declaredBytes, max: config.maxPacketBytes }))
    guardProtocolLevel(stream, (level) => {
      metrics.refused.inc({ operation: 'connect', reason: 'protocol_version' })
      warn('protocol_version', { level }, 'CONNECT refused: unacceptable protocol level (CONNACK 1)')
    })
    const client = aedes.handle(stream, req)
    readPublishesWhole((client as unknown as { _parser?: PacketParser })._parser, () => client.connected)
    hooks.attach(client, tlsSocket ? certificateIdentity(tlsSocket) : undefined, req?.socket.remoteAddress ?? (stream as Partial<Socket>).remoteAddress ?? 'unknown')
    stream.once('close', () => hooks.detach(client))
  }
  const onTlsError = (err: Error) => {
    metrics.refused.inc({ operation: 'connect', reason: 'tls_handshake' })
    warn('tls', { err: err.message }, 'TLS handshake failed')
  }
  const tlsFor = (kind: ListenerKind) =>
    (kind === 'tls' || kind === 'wss') && material
      ? { context: secureContextOptions(material), requestCert: config.certificates.clientAuth !== 'none', rejectUnauthorized: config.certificates.clientAuth === 'required' }
      : undefined

  // A gateway the registry no longer admits as it was (removed, a new secret, another factory) is
  // disconnected at the reload; it may connect again with what the new registry allows (docs/registry.md).
  const stopWatching = deps.registry.onReload?.((current) => {
    // Aedes keeps its connected clients by id (aedes.js; not in its types).
    for (const client of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) {
      const why = hooks.revoked(client, current)
      if (!why) continue
      metrics.refused.inc({ operation: 'connect', reason: why })
      log.warn({ clientId: client.id, gateway: hooks.identity(client)?.id, reason: why }, 'gateway disconnected: the reloaded registry no longer admits it as it connected')
      client.close()
    }
  })
  const gate = createConnectionGate({ ratePerS: config.connectRatePerS, ratePerAddressPerS: config.connectRatePerAddressPerS }, report)
  const listeners: Listener[] = []
  const wanted: [ListenerKind, { enabled: boolean; port: number }][] = [['tcp', config.tcp], ['ws', config.ws], ['tls', config.tls], ['wss', config.wss]]
  try {
    for (const [kind, { enabled, port }] of wanted) {
      if (!enabled) continue
      const tls = tlsFor(kind)
      const onServerError = (err: Error) => warn(`listener-${kind}`, { err: err.message }, `MQTT listener error (${kind})`)
      const listener = await startListener({ kind, host: config.host, port, gate, connectTimeoutMs: config.connectTimeoutMs, maxPacketBytes: config.maxPacketBytes, ...(tls ? { tls } : {}), handle, onTlsError, onServerError })
      listeners.push(listener)
      log.info({ port: listener.port, clientAuth: tls ? config.certificates.clientAuth : undefined }, `MQTT listening (${kind})`)
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()))
    stopWatching?.()
    gate.close()
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    throw err
  }

  let reloading: Promise<boolean> | undefined
  const doReload = async (): Promise<boolean> => {
    try {
      const next = await readTlsMaterial(config.certificates)
      if (material && same(next.cert, material.cert) && same(next.key, material.key) && same(next.ca, material.ca)) return true
      for (const l of listeners) if (l.kind === 'tls' || l.kind === 'wss') l.setSecureContext(secureContextOptions(next))
      material = next
      warnIfExpiring(next, log)
      metrics.tlsReloads.inc({ outcome: 'ok' })
      log.info({ notAfter: next.notAfter.toISOString() }, 'TLS certificates reloaded')
      return true
    } catch (err) {
      metrics.tlsReloads.inc({ outcome: 'failed' })
      log.error({ err: (err as Error).message }, 'TLS certificate reload failed; keeping the previous certificates')
      return false
    }
  }
  const reloadCertificates = (): Promise<boolean> => {
    if (!secure) return Promise.resolve(false)
    reloading ??= doReload().finally(() => (reloading = undefined))
    return reloading
  }
  const unwatch = secure ? watchTlsFiles(config.certificates, () => void reloadCertificates(), log) : () => undefined

  const port = (kind: ListenerKind) => listeners.find((l) => l.kind === kind)?.port
  return {
    aedes,
    ports: { tcp: port('tcp'), ws: port('ws'), tls: port('tls'), wss: port('wss') },
    connectionsOf: (id) => (id === undefined ? hooks.connections() : hooks.connectionsOf(id)),
    ownedClientIds: () => hooks.ownedClientIds(),
    qos2Awaiting: () => qos2.size(),
    reloadCertificates,
    async close() {
      unwatch()
      stopWatching?.()
      gate.close()
      hooks.close()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await Promise.all(listeners.map((l) => l.close()))
    },
  }
}

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b))
}
