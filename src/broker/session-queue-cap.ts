/** The part of Aedes' persistence that queues messages for persistent sessions (aedes-persistence 11). */
export interface OutgoingQueues {
  outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<unknown>
  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: unknown): Promise<unknown>
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>
}

/**
 * Bounds the messages Aedes queues for one client id (a persistent session's subscriptions, QoS 1
 * and 2, until acknowledged): past `max`, a message is not queued for that client and `onFull` is
 * told. Without it a session left with clean: false queued every message of its factory in memory
 * until the same client id came back (an outside review grew it by 200 MB with 400 messages of
 * 512 KB), and a gateway that boots with a new client id each time leaves such sessions behind.
 * Counts follow the queue exactly: one per message queued, one less per message cleared (delivered
 * and acknowledged, or dropped by a clean session). Returns the queued count of a client id.
 */
export function capSessionQueues(persistence: OutgoingQueues, max: number, onFull: (clientId: string) => void): (clientId: string) => number {
  const queued = new Map<string, number>()
  const enqueue = persistence.outgoingEnqueue.bind(persistence)
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence)
  const clear = persistence.outgoingClearMessageId.bind(persistence)
  const admit = (clientId: string): boolean => {
    const n = queued.get(clientId) ?? 0
    if (n >= max) {
      onFull(clientId)
      return false
    }
    queued.set(clientId, n + 1)
    return true
  }
  persistence.outgoingEnqueue = (sub, packet) => (admit(sub.clientId) ? enqueue(sub, packet) : Promise.resolve())
  persistence.outgoingEnqueueCombi = (subs, packet) => {
    const kept = subs.filter((s) => admit(s.clientId))
    return kept.length > 0 ? enqueueCombi(kept, packet) : Promise.resolve()
  }
  persistence.outgoingClearMessageId = async (client, packet) => {
    const cleared = await clear(client, packet)
    if (cleared) {
      const n = (queued.get(client.id) ?? 1) - 1
      if (n > 0) queued.set(client.id, n)
      else queued.delete(client.id)
    }
    return cleared
  }
  return (clientId) => queued.get(clientId) ?? 0
}
