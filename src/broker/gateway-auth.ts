import type { AedesOptions, AuthenticateError, Client } from 'aedes'
import type { Logger } from 'pino'
import type { GatewayIdentity } from '../domain/acl.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import { gatewayIdentity, type GatewayEntry, type Registry } from '../registry/registry.js'
import { createFailureThrottle } from '../registry/failure-throttle.js'
import type { RegistrySource } from '../registry/registry-store.js'
import { SecretChecksBusy } from '../registry/secret-hash.js'
import { createAuthorizeHooks } from './authorize-hooks.js'
import { gatewayOfCertificate, type CertificateIdentity } from './client-cert.js'
import { ClientIdOwners } from './client-id-owners.js'
import type { Forwarding } from './forwarding.js'
import { GatewayConnections } from './gateway-connections.js'
import type { LimitReporter } from './limit-reporter.js'
import { createPublishThrottle } from './publish-throttle.js'
import type { Qos2Receipts } from './qos2-receipts.js'

export interface HookDeps {
  readonly registry: RegistrySource
  readonly ingestor: Ingestor
  readonly metrics: Metrics
  readonly log: Logger
  readonly report: LimitReporter
  /** QoS 2 messages journaled and not yet released (docs/delivery.md). */
  readonly qos2: Qos2Receipts
  /** Told of each subscription granted (forwarding.ts). */
  readonly forwarding: Forwarding
  /** Whether Aedes' persistence keeps a session (subscriptions or queued messages) for a client id. */
  sessionExists(clientId: string): Promise<boolean>
  readonly limits: {
    readonly maxClientIdLength: number
    readonly maxKeepaliveS: number
    readonly maxTopicLength: number
    readonly maxSubscriptionsPerClient: number
    readonly maxConnectionsPerGateway: number
    readonly publishRatePerGatewayPerS: number
    readonly authFailuresPerMin: number
  }
}

export interface GatewayHooks extends Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  identity(client: Client): GatewayIdentity | undefined
  /** A new stream was handed to Aedes from `address`; `cert` is its verified client certificate, if any. */
  attach(client: Client, cert: CertificateIdentity | undefined, address: string): void
  /**
   * Why `registry` no longer admits the gateway this client authenticated as (removed, its secret
   * changed, moved to another factory or given other Sparkplug nodes); undefined while it does.
   */
  revoked(client: Client, registry: Registry): string | undefined
  /** Its stream closed: the gateway's connection slot is released. */
  detach(client: Client): void
  /** Distinct client ids a gateway holds open. */
  connectionsOf(gatewayId: string): number
  /** Connections held over all gateways. */
  connections(): number
  /** Client ids bound to a gateway: held by a connection or kept by a persistent session. */
  ownedClientIds(): number
  close(): void
}

interface ClientState {
  cert: CertificateIdentity | undefined
  address: string
  emptyClientId: boolean
  /** The keepalive asked for, when above MQTT_MAX_KEEPALIVE_S. */
  keepaliveTooLong: number | undefined
  detached: boolean
  gateway: GatewayIdentity | undefined
  /** The stored hash the CONNECT's secret was checked against; undefined for a certificate alone. */
  secretHash: string | undefined
}

// MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3].
const IDENTIFIER_REJECTED = 2
const SERVER_UNAVAILABLE = 3
const NOT_AUTHORIZED = 5

/**
 * A refused CONNECT must leave the session of its client id alone: Aedes'
 * close of a clean-session client wipes the QoS 2 receive store of that id
 * (lib/client.js), which belongs to whoever holds the id, not to this client.
 */
function keepSession(client: Client): void {
  ;(client as { clean: boolean }).clean = false
}

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

/**
 * The broker's policy points (docs/security.md): who may connect (a secret
 * checked against its slow hash, or a verified client certificate), how many
 * connections a gateway may hold, and, in authorize-hooks.ts, where it may
 * publish and subscribe.
 */
export function createGatewayHooks(deps: HookDeps): GatewayHooks {
  const { registry, metrics, log, report, limits } = deps
  const states = new WeakMap<Client, ClientState>()
  const connections = new GatewayConnections(limits.maxConnectionsPerGateway)
  const owners = new ClientIdOwners()
  const throttle = createPublishThrottle(limits.publishRatePerGatewayPerS)
  // Wrong secrets per source address (docs/security.md): past the limit, a CONNECT costs no scrypt.
  const failures = limits.authFailuresPerMin > 0 ? createFailureThrottle({ limit: limits.authFailuresPerMin, windowMs: 60_000, maxTracked: 10_000 }) : undefined
  const stateOf = (client: Client): ClientState => {
    let s = states.get(client)
    if (!s) states.set(client, (s = { cert: undefined, address: 'unknown', emptyClientId: false, keepaliveTooLong: undefined, detached: false, gateway: undefined, secretHash: undefined }))
    return s
  }
  const identity = (client: Client) => states.get(client)?.gateway

  const refuse = (client: Client, reason: string, returnCode: number, callback: (err: AuthenticateError, ok: false) => void) => {
    metrics.refused.inc({ operation: 'connect', reason })
    keepSession(client)
    callback(authError(returnCode, reason), false)
  }
  // A session outlives its connection until nothing is left of it in Aedes' persistence.
  const releaseWhenSessionGone = (clientId: string, gatewayId: string) =>
    setImmediate(() =>
      deps.sessionExists(clientId).then(
        (exists) => void (exists || owners.releaseIfVacant(clientId, gatewayId)),
        (err: unknown) => log.error({ err, clientId }, 'cannot tell whether a session remains; the client id stays bound to its gateway'),
      ),
    )

  return {
    ...createAuthorizeHooks({ ingestor: deps.ingestor, metrics, log, report, throttle, qos2: deps.qos2, forwarding: deps.forwarding, maxTopicLength: limits.maxTopicLength, maxSubscriptionsPerClient: limits.maxSubscriptionsPerClient, identity }),
    identity,
    attach(client, cert, address) {
      const s = stateOf(client)
      s.cert = cert
      s.address = address
    },
    detach(client) {
      const s = stateOf(client)
      s.detached = true
      if (!s.gateway) return
      connections.release(s.gateway.id, client.id, client)
      if (owners.vacate(client.id, client)) releaseWhenSessionGone(client.id, s.gateway.id)
    },
    revoked(client, current) {
      const s = states.get(client)
      if (!s?.gateway) return undefined
      const entry = current.gateway(s.gateway.id)
      if (!entry) return 'gateway_removed'
      if (s.secretHash !== undefined && entry.gateway.secretHash !== s.secretHash) return 'secret_changed'
      return JSON.stringify(gatewayIdentity(entry)) === JSON.stringify(s.gateway) ? undefined : 'gateway_changed'
    },
    connectionsOf: (id) => connections.count(id),
    connections: () => connections.total(),
    ownedClientIds: () => owners.size(),
    close: () => throttle.close(),

    preConnect(client, packet, callback) {
      const s = stateOf(client)
      // [MQTT-3.1.2-22] a password without a username is a malformed CONNECT (MQTT 5 allows it, and
      // Aedes answers MQTT 5 with CONNACK 1): closed without CONNACK, as preConnect refusals are.
      if (packet.password !== undefined && packet.username === undefined && packet.protocolVersion !== 5) {
        metrics.refused.inc({ operation: 'connect', reason: 'password_without_username' })
        return callback(new Error('password without username'), false)
      }
      // Aedes invents an id for an empty one; we refuse it instead, so every session is attributable.
      if (!packet.clientId) s.emptyClientId = true
      // Keepalive 0 (none) would leave a dead link unnoticed when a cell drops; stock clients send it
      // (the Paho interoperability suite does), so it is accepted and held to the maximum instead:
      // Aedes arms its idle timer from this packet's keepalive after preConnect [MQTT-3.1.2-24].
      if (!packet.keepalive) packet.keepalive = limits.maxKeepaliveS
      else if (packet.keepalive > limits.maxKeepaliveS) s.keepaliveTooLong = packet.keepalive
      callback(null, true)
    },

    authenticate(client, username, password, callback) {
      // A refused username is logged only when it names a gateway: anything else may be a secret
      // typed into the wrong field (and client ids are often made from the username), and the log
      // must never hold one.
      const known = (name: string | undefined) => name === undefined || registry.current().gateway(name) !== undefined
      const shown = (name: string | undefined) => (known(name) ? name : `(not a gateway id, ${name!.length} characters)`)
      const shownClientId = (name: string | undefined) => (known(name) || !client.id.includes(name!) ? client.id : `(holds the username, ${client.id.length} characters)`)
      const s = stateOf(client)
      // [MQTT-3.1.3-8] an empty client id is refused with "identifier rejected".
      if (s.emptyClientId) return refuse(client, 'empty_client_id', IDENTIFIER_REJECTED, callback)
      if (client.id.length > limits.maxClientIdLength) {
        report('client_id_length', { length: client.id.length })
        return refuse(client, 'client_id_too_long', IDENTIFIER_REJECTED, callback)
      }
      // MQTT 3.1.1 has no CONNACK code for a keepalive the server will not serve; "identifier
      // rejected" is what Mosquitto answers, and it is checked before the costly secret hash.
      if (s.keepaliveTooLong !== undefined) {
        report('keepalive', { keepalive: s.keepaliveTooLong, max: limits.maxKeepaliveS })
        return refuse(client, 'keepalive_too_long', IDENTIFIER_REJECTED, callback)
      }
      let gatewayId = username
      if (s.cert) {
        const check = gatewayOfCertificate(s.cert, username, (id) => registry.current().gateway(id) !== undefined)
        if (!check.ok) {
          log.warn({ clientId: shownClientId(username), username: shown(username), certificate: s.cert.names }, 'gateway refused: the client certificate does not name it')
          return refuse(client, check.reason, NOT_AUTHORIZED, callback)
        }
        gatewayId = check.gatewayId
      }
      if (!gatewayId || (!password && !s.cert)) return refuse(client, 'no_credentials', NOT_AUTHORIZED, callback)

      const admit = (entry: GatewayEntry | undefined) => {
        if (!entry) {
          failures?.fail(s.address)
          log.warn({ clientId: shownClientId(gatewayId), username: shown(gatewayId), address: s.address }, 'gateway refused: bad credentials')
          return refuse(client, 'bad_credentials', NOT_AUTHORIZED, callback)
        }
        // The stream closed while the hash was checked: Aedes drops this connection; claim nothing.
        if (s.detached) {
          keepSession(client)
          return callback(authError(NOT_AUTHORIZED, 'connection closed'), false)
        }
        // A client id is bound to one gateway: another gateway's takeover [MQTT-3.1.4-2] would close
        // the holder and, with clean: false, inherit its session and queued messages (docs/security.md).
        const owner = owners.ownerOf(client.id)
        if (owner !== undefined && owner !== entry.gateway.id) {
          log.warn({ clientId: client.id, gateway: entry.gateway.id, owner }, 'gateway refused: the client id belongs to another gateway')
          return refuse(client, 'client_id_taken', IDENTIFIER_REJECTED, callback)
        }
        if (!connections.claim(entry.gateway.id, client.id, client)) {
          report('connections_per_gateway', { gateway: entry.gateway.id, max: limits.maxConnectionsPerGateway })
          return refuse(client, 'too_many_connections', SERVER_UNAVAILABLE, callback)
        }
        owners.claim(client.id, entry.gateway.id, client)
        s.gateway = gatewayIdentity(entry)
        if (password) s.secretHash = entry.gateway.secretHash
        callback(null, true)
      }
      // A verified certificate without a password authenticates by itself; with one, both must hold.
      if (!password) return admit(registry.current().gateway(gatewayId))
      const secret = password.toString('utf8')
      if (failures && failures.retryAfterS(s.address) > 0) {
        // Throttled: only a secret that already passed a full check gets in (a gateway behind the same NAT).
        const proven = registry.current().provenGateway(gatewayId, secret)
        if (proven) return admit(proven)
        report('auth_failures_address', { address: s.address })
        return refuse(client, 'auth_throttled', SERVER_UNAVAILABLE, callback)
      }
      registry
        .current()
        .authenticateGateway(gatewayId, secret)
        .then(admit, (err: unknown) => {
          // Too many checks waiting: "server unavailable", which a gateway retries, not "not authorized".
          if (err instanceof SecretChecksBusy) {
            report('auth_busy', { clientId: client.id })
            return refuse(client, 'auth_busy', SERVER_UNAVAILABLE, callback)
          }
          log.error({ err, clientId: client.id }, 'authentication failed')
          keepSession(client)
          callback(authError(NOT_AUTHORIZED, 'not authorized'), false)
        })
    },
  }
}
