import type { ServerResponse } from 'node:http'
import type { AcceptedMessage } from '../pipeline/pipeline.js'
import { streamEventJson } from './stream-json.js'

/** One event of the live stream: a decoded message as accepted by the pipeline, once journaled. */
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
  /** The API key the stream was opened with, as the registry held it then (`endWhere` judges it). */
  readonly key?: { readonly id: string; readonly held: string }
}

/** How long after the last client leaves events are still buffered for a resuming client. */
export const RESUME_WINDOW_MS = 60_000
/** Clients that left remembered for resumption at most (the newest). */
const MAX_DEPARTED = 100

/**
 * Fans accepted messages out to Server-Sent-Event clients. Writes never
 * wait: a client whose socket is not draining accumulates a queue, and past
 * `clientQueueEvents` it is disconnected, so a slow client cannot hold back
 * the pipeline or grow memory. The last `bufferEvents` events are kept so a
 * client can resume with `Last-Event-ID`, but only the events a connected
 * client, or one that left less than `RESUME_WINDOW_MS` ago, would have
 * received: nobody else can resume them. Holding every message of a busy
 * plant for nobody kept megabytes per second alive long enough to make the
 * garbage collector the ingest path's largest cost, and serializing every
 * message while one client watched one machine cost a tenth of the service's
 * CPU (bench/README).
 */
export class LiveHub {
  private readonly ring: (LiveEvent | undefined)[]
  private ringStart = 0
  private ringSize = 0
  private readonly clients = new Set<LiveClient>()
  /**
   * Event ids go on increasing across restarts: each process starts at its start time in ms × 1000
   * (a process would need over 1,000 events per ms of its life to reach the next one's start), so a
   * client's Last-Event-ID from before a restart is told apart from one of this process.
   */
  private readonly firstId: number
  private nextId: number
  private disconnectedSlow = 0
  /** What clients that left lately would accept, for their resumption; oldest first, bounded. */
  private departed: { readonly accepts: LiveClient['accepts']; readonly leftAt: number }[] = []

  constructor(
    private readonly opts: { bufferEvents: number; clientQueueEvents: number; firstId?: number },
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new Array<LiveEvent | undefined>(opts.bufferEvents)
    this.firstId = this.nextId = opts.firstId ?? this.now() * 1000
  }

  get clientCount(): number {
    return this.clients.size
  }

  get slowDisconnects(): number {
    return this.disconnectedSlow
  }

  /** Events buffered for resumption now. */
  get buffered(): number {
    return this.ringSize
  }

  /** Forgets the clients that left RESUME_WINDOW_MS ago or more. */
  private forgetDeparted(): void {
    const oldest = this.now() - RESUME_WINDOW_MS
    while (this.departed.length > 0 && this.departed[0]!.leftAt <= oldest) this.departed.shift()
  }

  private left(client: LiveClient): void {
    if (!this.clients.delete(client)) return
    this.departed.push({ accepts: client.accepts, leftAt: this.now() })
    if (this.departed.length > MAX_DEPARTED) this.departed.shift()
  }

  publish(accepted: AcceptedMessage): void {
    const id = this.nextId++
    if (this.departed.length > 0) this.forgetDeparted()
    if (this.clients.size === 0 && this.departed.length === 0) {
      this.clearRing()
      return
    }
    const t = accepted.topic
    // Built on first send; once built, the message is let go (a buffered event holds only its JSON).
    let source: AcceptedMessage | undefined = accepted
    let json: string | undefined
    const event: LiveEvent = {
      id,
      kind: t.kind,
      zone: t.zone,
      factory: t.factory,
      line: t.scope === 'machine' ? t.line : undefined,
      machine: t.scope === 'machine' ? t.machine : undefined,
      data: () => {
        if (json === undefined) {
          json = streamEventJson(source!)
          source = undefined
        }
        return json
      },
    }
    let wanted = false
    for (const c of this.clients) {
      if (!c.accepts(event)) continue
      wanted = true
      this.write(c, event)
    }
    if (this.opts.bufferEvents > 0 && (wanted || this.departed.some((d) => d.accepts(event)))) {
      // Kept serialized: a buffered string is cheaper to hold than the decoded message's objects.
      event.data()
      this.push(event)
    }
  }

  private push(event: LiveEvent): void {
    const cap = this.ring.length
    if (this.ringSize < cap) {
      this.ring[(this.ringStart + this.ringSize++) % cap] = event
    } else {
      this.ring[this.ringStart] = event
      this.ringStart = (this.ringStart + 1) % cap
    }
  }

  private clearRing(): void {
    if (this.ringSize === 0) return
    this.ring.fill(undefined)
    this.ringStart = 0
    this.ringSize = 0
  }

  private *bufferedEvents(): Generator<LiveEvent> {
    for (let i = 0; i < this.ringSize; i++) yield this.ring[(this.ringStart + i) % this.ring.length]!
  }

  /** Adds a client; replays buffered events after `lastEventId` when given. */
  add(client: LiveClient, lastEventId: number | undefined): void {
    this.clients.add(client)
    client.res.on('close', () => this.left(client))
    client.res.on('drain', () => (client.queued = 0))
    if (lastEventId !== undefined) {
      const oldest = this.ringSize > 0 ? this.ring[this.ringStart]!.id : this.nextId
      if (lastEventId < this.firstId - 1) client.res.write(`: the service restarted after event ${lastEventId}; what it accepted meanwhile is not buffered (read it from the REST API)\n\n`)
      else if (lastEventId >= this.nextId) client.res.write(`: event ${lastEventId} was never sent by this service; live events follow\n\n`)
      else if (lastEventId < oldest - 1) client.res.write(`: events ${lastEventId + 1}-${oldest - 1} are no longer buffered\n\n`)
      for (const e of this.bufferedEvents()) if (e.id > lastEventId && client.accepts(e)) this.write(client, e)
    }
  }

  heartbeat(): void {
    for (const c of this.clients) c.res.write(': heartbeat\n\n')
  }

  close(): void {
    for (const c of this.clients) c.res.end()
    this.clients.clear()
  }

  /** Ends the streams `pred` picks, with a last comment saying why; returns how many. */
  endWhere(pred: (c: LiveClient) => boolean, why: string): number {
    let n = 0
    for (const c of [...this.clients]) {
      if (!pred(c)) continue
      c.res.end(`: ${why}\n\n`)
      this.left(c)
      n++
    }
    return n
  }

  private write(client: LiveClient, e: LiveEvent): void {
    if (client.res.writableNeedDrain) {
      if (++client.queued > this.opts.clientQueueEvents) {
        this.disconnectedSlow++
        this.left(client)
        client.res.destroy()
        return
      }
    }
    client.res.write(`id: ${e.id}\nevent: ${e.kind}\ndata: ${e.data()}\n\n`)
  }
}
