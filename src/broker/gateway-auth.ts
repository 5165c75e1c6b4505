import type { AedesOptions, AuthenticateError, Client } from 'aedes'
import type { Logger } from 'pino'
import { mayPublish, maySubscribe, type GatewayIdentity } from '../domain/acl.js'
import { isUnderRoot } from '../domain/topic.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { RegistrySource } from '../registry/registry-store.js'

export interface HookDeps {
  readonly registry: RegistrySource
  readonly ingestor: Ingestor
  readonly metrics: Metrics
  readonly maxClientIdLength: number
  readonly log: Logger
}

// MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3].
const IDENTIFIER_REJECTED = 2
const NOT_AUTHORIZED = 5

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

/**
 * The broker's policy points (DESIGN section 7): who may connect, where a
 * gateway may publish and subscribe, and the hand-off of each publish to the
 * ingestor. `authorizePublish` is the only Aedes hook that runs before a QoS 1
 * PUBACK (lib/handlers/publish.js), so the message is journaled there and the
 * callback held until it is durable.
 */
export function createGatewayHooks(deps: HookDeps): Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> & {
  identity(client: Client): GatewayIdentity | undefined
} {
  const { registry, ingestor, metrics, log } = deps
  const identities = new WeakMap<Client, GatewayIdentity>()
  const emptyClientIds = new WeakSet<Client>()

  return {
    identity: (client) => identities.get(client),

    preConnect(client, packet, callback) {
      // Aedes invents an id for an empty one; we refuse it instead, so every session is attributable.
      if (!packet.clientId) emptyClientIds.add(client)
      callback(null, true)
    },

    authenticate(client, username, password, callback) {
      if (emptyClientIds.has(client)) {
        metrics.refused.inc({ operation: 'connect', reason: 'empty_client_id' })
        return callback(authError(IDENTIFIER_REJECTED, 'empty client id'), false)
      }
      if (client.id.length > deps.maxClientIdLength) {
        metrics.refused.inc({ operation: 'connect', reason: 'client_id_too_long' })
        return callback(authError(IDENTIFIER_REJECTED, 'client id too long'), false)
      }
      if (!username || !password) {
        metrics.refused.inc({ operation: 'connect', reason: 'no_credentials' })
        return callback(authError(NOT_AUTHORIZED, 'credentials required'), false)
      }
      registry
        .current()
        .authenticateGateway(username, password.toString('utf8'))
        .then(
          (entry) => {
            if (!entry) {
              metrics.refused.inc({ operation: 'connect', reason: 'bad_credentials' })
              log.warn({ clientId: client.id, username }, 'gateway refused: bad credentials')
              return callback(authError(NOT_AUTHORIZED, 'not authorized'), false)
            }
            identities.set(client, { id: entry.gateway.id, zone: entry.zone, factory: entry.factory })
            callback(null, true)
          },
          (err: unknown) => {
            log.error({ err, clientId: client.id }, 'authentication failed')
            callback(authError(NOT_AUTHORIZED, 'not authorized'), false)
          },
        )
    },

    authorizePublish(client, packet, callback) {
      // Will messages published by the broker itself have no client.
      if (!client) return callback(null)
      const gw = identities.get(client)
      if (!gw || !mayPublish(gw, packet.topic)) {
        metrics.refused.inc({ operation: 'publish', reason: 'acl' })
        log.warn({ clientId: client.id, gateway: gw?.id, topic: packet.topic }, 'publish refused: outside the gateway\'s factory')
        // MQTT 3.1.1 has no negative PUBACK: refusing closes the connection.
        return callback(new Error('publish not authorized'))
      }
      if (isUnderRoot(packet.topic)) {
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
        // A bad payload is accepted (acked) and kept as a rejection, never refused (DESIGN section 5).
        // QoS 1: the PUBACK waits until the outcome is durable; meanwhile Aedes reads no more from this socket.
        const durable = ingestor.handle({ topic: packet.topic, payload, gatewayId: gw.id }, packet.qos)
        if (durable) {
          durable.then(
            () => callback(null),
            (err: unknown) => {
              log.error({ err, clientId: client.id }, 'cannot make a message durable; closing the connection so the gateway resends')
              callback(err as Error)
            },
          )
          return
        }
      }
      callback(null)
    },

    authorizeSubscribe(client, subscription, callback) {
      const gw = identities.get(client)
      if (!gw || !maySubscribe(gw, subscription.topic)) {
        metrics.refused.inc({ operation: 'subscribe', reason: 'acl' })
        // A null subscription makes Aedes answer SUBACK 0x80 (failure) for it [MQTT-3.9.3].
        return callback(null, null)
      }
      callback(null, subscription)
    },
  }
}
