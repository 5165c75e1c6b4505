/**
 * The QoS 2 messages journaled and not yet released, per client id and packet
 * id (docs/delivery.md). `authorizePublish` journals a message before Aedes
 * answers PUBREC, so a PUBLISH resent with the same packet id before the
 * PUBREL (after a dropped link, with clean: false) reaches the hook again;
 * Aedes recognises it by its incoming store and only answers PUBREC again
 * (lib/handlers/publish.js), and this tells the hook not to journal it twice.
 *
 * An entry is made when the message is handed to the journal and holds the
 * append's promise, so a resend that arrives before the append is durable is
 * answered only once it is. It ends with the PUBREL (Aedes deletes its
 * incoming packet then), with the end of a clean session (Aedes wipes the
 * client id's incoming store then), or when the append fails (nothing was
 * journaled, so the resend must be). Entries are bounded per client id by the
 * QoS 2 receive window (`full`), like Aedes' own `maxInflightInbound`, and held
 * per gateway: a client id that passes to another gateway (docs/security.md)
 * starts with no entries.
 */
export class Qos2Receipts {
  private readonly byClient = new Map<string, { gatewayId: string; ids: Map<number, Promise<void>> }>()

  constructor(readonly maxPerClient: number) {}

  /** The append of a message journaled under this packet id and not yet released, if any. */
  pending(clientId: string, gatewayId: string, messageId: number): Promise<void> | undefined {
    const c = this.byClient.get(clientId)
    return c?.gatewayId === gatewayId ? c.ids.get(messageId) : undefined
  }

  /** Whether a message with a new packet id would exceed the receive window of this client id. */
  full(clientId: string, gatewayId: string): boolean {
    const c = this.byClient.get(clientId)
    return c?.gatewayId === gatewayId && c.ids.size >= this.maxPerClient
  }

  /** A message was handed to the journal; `durable` settles when its append does. */
  journaled(clientId: string, gatewayId: string, messageId: number, durable: Promise<void>): void {
    let c = this.byClient.get(clientId)
    if (c?.gatewayId !== gatewayId) this.byClient.set(clientId, (c = { gatewayId, ids: new Map() }))
    const ids = c.ids
    ids.set(messageId, durable)
    durable.catch(() => {
      if (ids.get(messageId) === durable) this.forget(clientId, ids, messageId)
    })
  }

  /** PUBREL: the handshake is over, and the packet id may carry a new message. */
  release(clientId: string, messageId: number): void {
    const c = this.byClient.get(clientId)
    if (c) this.forget(clientId, c.ids, messageId)
  }

  /** The client id's session ended clean: nothing of it will be resent. */
  clear(clientId: string): void {
    this.byClient.delete(clientId)
  }

  /** Entries held (for one client id, or all). */
  size(clientId?: string): number {
    if (clientId !== undefined) return this.byClient.get(clientId)?.ids.size ?? 0
    let n = 0
    for (const c of this.byClient.values()) n += c.ids.size
    return n
  }

  private forget(clientId: string, ids: Map<number, Promise<void>>, messageId: number): void {
    ids.delete(messageId)
    if (ids.size === 0 && this.byClient.get(clientId)?.ids === ids) this.byClient.delete(clientId)
  }
}

/** The part of Aedes' persistence that ends a QoS 2 receive state. */
export interface IncomingStore {
  incomingDelPacket(client: { id: string }, packet: { messageId?: number | undefined }): Promise<unknown>
  cleanIncoming?(client: { id: string }): Promise<unknown>
}

/**
 * Ends receipts where Aedes ends its own receive state: `incomingDelPacket` on
 * PUBREL (lib/handlers/pubrel.js), `cleanIncoming` when a clean session starts
 * or ends (lib/handlers/connect.js, lib/client.js). A refused CONNECT does not
 * reach `cleanIncoming` (gateway-auth.ts), so it leaves these alone too.
 */
export function followReleases(store: IncomingStore, receipts: Qos2Receipts): void {
  const del = store.incomingDelPacket.bind(store)
  store.incomingDelPacket = (client, packet) => {
    if (packet.messageId !== undefined) receipts.release(client.id, packet.messageId)
    return del(client, packet)
  }
  const clean = store.cleanIncoming?.bind(store)
  if (clean) {
    store.cleanIncoming = (client) => {
      receipts.clear(client.id)
      return clean(client)
    }
  }
}
