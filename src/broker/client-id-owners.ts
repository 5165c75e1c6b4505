/**
 * Which gateway owns each client id (docs/security.md). Aedes keys sessions by
 * client id alone, so a session takeover [MQTT-3.1.4-2] by another gateway
 * would disconnect the owner and, with clean: false, hand over its
 * subscriptions and queued messages. An id is owned while a connection holds
 * it and, after that, for as long as Aedes' persistence keeps a session for it.
 */
export class ClientIdOwners {
  private readonly owners = new Map<string, { gatewayId: string; holder: object | undefined }>()

  /** The gateway that owns `clientId`, if any. */
  ownerOf(clientId: string): string | undefined {
    return this.owners.get(clientId)?.gatewayId
  }

  /** Makes `connection` the holder of `clientId`; false (nothing recorded) when another gateway owns it. */
  claim(clientId: string, gatewayId: string, connection: object): boolean {
    const owner = this.owners.get(clientId)
    if (owner && owner.gatewayId !== gatewayId) return false
    this.owners.set(clientId, { gatewayId, holder: connection })
    return true
  }

  /**
   * `connection` closed. True when it was the holder: the id stays owned, held
   * by no one, until `releaseIfVacant` finds no session behind it.
   */
  vacate(clientId: string, connection: object): boolean {
    const owner = this.owners.get(clientId)
    if (owner?.holder !== connection) return false
    owner.holder = undefined
    return true
  }

  /** Forgets the owner unless a connection of the same or another gateway took the id meanwhile. */
  releaseIfVacant(clientId: string, gatewayId: string): void {
    const owner = this.owners.get(clientId)
    if (owner && owner.holder === undefined && owner.gatewayId === gatewayId) this.owners.delete(clientId)
  }

  /** Client ids owned, held or not. */
  size(): number {
    return this.owners.size
  }
}

/** The part of Aedes' persistence (aedes-persistence) that tells whether a client id has a session. */
export interface SessionStore {
  subscriptionsByClient(client: { id: string }): Promise<readonly unknown[]>
  outgoingStream(client: { id: string }): AsyncIterable<unknown>
}

/**
 * Whether the persistence keeps session state for `clientId` that another
 * client with that id would receive: subscriptions (Aedes stores them only for
 * clean: false, and answers session-present for them [MQTT-3.2.2-2]) or queued
 * outgoing messages (delivered on CONNECT).
 */
export async function sessionExists(store: SessionStore, clientId: string): Promise<boolean> {
  if ((await store.subscriptionsByClient({ id: clientId })).length > 0) return true
  for await (const _ of store.outgoingStream({ id: clientId })) return true
  return false
}
