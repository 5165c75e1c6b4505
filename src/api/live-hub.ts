import type { ServerResponse } from 'node:http'
import type { AcceptedMessage } from '../pipeline/pipeline.js'

/** One event of the live stream: a decoded message as accepted by the pipeline. */
export interface LiveEvent {
  readonly id: number
  readonly kind: string
  readonly zone: string
  readonly factory: string
  readonly line: string | undefined
  readonly machine: string | undefined
  /** The event's JSON, built on first send: with no client listening, publishing costs no serialization. */
  data(): string
}

export interface LiveClient {
  readonly res: ServerResponse
  readonly accepts: (e: LiveEvent) => boolean
  /** Writes queued while the socket needed draining. */
  queued: number
}

/**
 * Fans accepted messages out to Server-Sent-Event clients. Writes never
 * wait: a client whose socket is not draining accumulates a queue, and past
 * `clientQueueEvents` it is disconnected, so a slow client cannot hold back
 * the pipeline or grow memory. The last `bufferEvents` events are kept so a
 * client can resume with `Last-Event-ID`.
 */
export class LiveHub {
  private readonly ring: LiveEvent[] = []
  private readonly clients = new Set<LiveClient>()
  private nextId = 1
  private disconnectedSlow = 0

  constructor(private readonly opts: { bufferEvents: number; clientQueueEvents: number }) {}

  get clientCount(): number {
    return this.clients.size
  }

  get slowDisconnects(): number {
    return this.disconnectedSlow
  }

  publish(accepted: AcceptedMessage): void {
    if (this.clients.size === 0 && this.opts.bufferEvents === 0) return
    const t = accepted.topic
    const id = this.nextId++
    const identity = t.scope === 'machine' ? { zone: t.zone, factory: t.factory, line: t.line, machine: t.machine } : { zone: t.zone, factory: t.factory, gateway: t.gateway }
    let json: string | undefined
    const event: LiveEvent = {
      id,
      kind: t.kind,
      zone: t.zone,
      factory: t.factory,
      line: t.scope === 'machine' ? t.line : undefined,
      machine: t.scope === 'machine' ? t.machine : undefined,
      data: () => (json ??= JSON.stringify({ ...identity, kind: t.kind, gateway: accepted.gatewayId, message: accepted.message })),
    }
    if (this.opts.bufferEvents > 0) {
      this.ring.push(event)
      if (this.ring.length > this.opts.bufferEvents) this.ring.shift()
    }
    for (const c of this.clients) if (c.accepts(event)) this.write(c, event)
  }

  /** Adds a client; replays buffered events after `lastEventId` when given. */
  add(client: LiveClient, lastEventId: number | undefined): void {
    this.clients.add(client)
    client.res.on('close', () => this.clients.delete(client))
    client.res.on('drain', () => (client.queued = 0))
    if (lastEventId !== undefined) {
      const oldest = this.ring[0]?.id
      if (oldest !== undefined && lastEventId < oldest - 1) client.res.write(`: events ${lastEventId + 1}-${oldest - 1} are no longer buffered\n\n`)
      for (const e of this.ring) if (e.id > lastEventId && client.accepts(e)) this.write(client, e)
    }
  }

  heartbeat(): void {
    for (const c of this.clients) c.res.write(': heartbeat\n\n')
  }

  close(): void {
    for (const c of this.clients) c.res.end()
    this.clients.clear()
  }

  private write(client: LiveClient, e: LiveEvent): void {
    if (client.res.writableNeedDrain) {
      if (++client.queued > this.opts.clientQueueEvents) {
        this.disconnectedSlow++
        this.clients.delete(client)
        client.res.destroy()
        return
      }
    }
    client.res.write(`id: ${e.id}\nevent: ${e.kind}\ndata: ${e.data()}\n\n`)
  }
}
