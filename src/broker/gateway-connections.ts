/**
 * Which client ids each gateway holds open, to cap the distinct connections
 * of one gateway. A new connection with a client id the gateway already holds
 * is a session takeover [MQTT-3.1.4-2], not an extra connection: it replaces
 * the holder, and the old connection's later release is a no-op.
 */
export class GatewayConnections {
  private readonly byGateway = new Map<string, Map<string, object>>()

  constructor(private readonly maxPerGateway: number) {}

  /** Records `connection` as the holder of `clientId`; false (nothing recorded) when the gateway is at its cap. */
  claim(gatewayId: string, clientId: string, connection: object): boolean {
    let held = this.byGateway.get(gatewayId)
    if (!held) this.byGateway.set(gatewayId, (held = new Map()))
    if (!held.has(clientId) && held.size >= this.maxPerGateway) return false
    held.set(clientId, connection)
    return true
  }

  /** Forgets `connection` if it still holds `clientId` (a takeover has replaced it otherwise). */
  release(gatewayId: string, clientId: string, connection: object): void {
    const held = this.byGateway.get(gatewayId)
    if (held?.get(clientId) !== connection) return
    held.delete(clientId)
    if (held.size === 0) this.byGateway.delete(gatewayId)
  }

  count(gatewayId: string): number {
    return this.byGateway.get(gatewayId)?.size ?? 0
  }

  /** Connections held over all gateways. */
  total(): number {
    let n = 0
    for (const held of this.byGateway.values()) n += held.size
    return n
  }
}
