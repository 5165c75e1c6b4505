import { connect, type Socket } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'

export { type Packet }
export const generate = (packet: Packet): Buffer => mqttPacket.generate(packet)

/**
 * A bare MQTT 3.1.1 connection: writes whatever bytes a test wants (valid,
 * truncated or malformed) and parses what the broker answers.
 */
export class RawMqtt {
  readonly received: Packet[] = []
  readonly closed: Promise<void>
  isClosed = false
  private waiters: (() => void)[] = []

  private constructor(readonly socket: Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p: Packet) => {
      this.received.push(p)
      for (const w of this.waiters.splice(0)) w()
    })
    parser.on('error', () => undefined)
    socket.on('data', (d: Buffer) => parser.parse(d))
    socket.on('error', () => undefined)
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true
        for (const w of this.waiters.splice(0)) w()
        resolve()
      }),
    )
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off('error', reject)
        resolve(new RawMqtt(socket))
      })
      socket.once('error', reject)
    })
  }

  send(packet: Packet): boolean {
    return this.write(generate(packet))
  }

  write(bytes: Buffer): boolean {
    if (this.socket.destroyed) return false
    return this.socket.write(bytes)
  }

  /** Resolves with the first received packet of that type (undefined if the connection closes first). */
  async next(cmd: Packet['cmd'], timeoutMs = 5000): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.received.findIndex((p) => p.cmd === cmd)
      if (i >= 0) return this.received.splice(i, 1)[0]
      if (this.isClosed) return undefined
      if (Date.now() > deadline) throw new Error(`no ${cmd} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Resolves true when the broker closes the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))])
  }

  destroy(): void {
    this.socket.destroy()
  }
}

export function connectPacket(opts: { clientId: string; username?: string; password?: string; keepalive?: number; clean?: boolean; protocolVersion?: 3 | 4 | 5 }): Packet {
  const protocolVersion = opts.protocolVersion ?? 4
  return {
    cmd: 'connect',
    protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion,
    clean: opts.clean ?? true,
    clientId: opts.clientId,
    keepalive: opts.keepalive ?? 60,
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
  }
}

/** Opens a connection and completes CONNECT/CONNACK; throws unless accepted. */
export async function rawConnect(port: number, opts: Parameters<typeof connectPacket>[0]): Promise<RawMqtt> {
  const c = await RawMqtt.open(port)
  c.send(connectPacket(opts))
  const ack = (await c.next('connack')) as { returnCode?: number } | undefined
  if (ack?.returnCode !== 0) {
    c.destroy()
    throw new Error(`CONNACK ${ack?.returnCode ?? 'none'}`)
  }
  return c
}
