import type { Logger } from 'pino'
import { tagValue } from '../domain/line-protocol.js'
import type { Metrics } from '../metrics/metrics.js'
import type { RejectionInput, RejectionStore } from './rejection-store.js'

const REASON = 'refused_by_storage'

/** A point InfluxDB refused as bad data, as a rejection: its measurement stands for the topic, the line for the payload. */
export function storageRejection(line: string, message: string): RejectionInput {
  // Our measurements have no escapes: the first comma (tags) or space (fields) ends it.
  const measurement = /^[^, ]*/.exec(line)![0]
  return {
    topic: `(storage) ${measurement}`,
    gateway: undefined,
    zone: tagValue(line, 'zone'),
    factory: tagValue(line, 'factory'),
    reason: REASON,
    message,
    payload: Buffer.from(line),
  }
}

/**
 * Keeps rejections that have no publisher waiting for them (docs/delivery.md):
 * messages rejected when decoded from the journal, and points storage
 * refused. The journal's checkpoint moves past them only once they are kept,
 * so the rejection is their only trace: one that cannot be made durable yet
 * is retried every `retryMs` until it is, and counted in
 * `iiot_messages_rejected_total{reason}` once kept.
 */
export class RejectionKeeper {
  private readonly pending = new Set<Promise<void>>()
  private readonly sleepers = new Set<() => void>()
  private closed = false

  constructor(
    private readonly store: Pick<RejectionStore, 'add'>,
    private readonly deps: { readonly metrics: Metrics; readonly log: Logger; readonly retryMs?: number },
  ) {}

  /**
   * For the drainer's `onRefusedLine`: resolves once the refused point's rejection is kept, which
   * the drainer waits for before its batch counts as done.
   */
  keepRefused(line: string, message: string): Promise<void> {
    return this.keep(storageRejection(line, message))
  }

  /** Keeps `input`, retrying until it is durable (or the keeper closes); resolves then. */
  keep(input: RejectionInput): Promise<void> {
    const done: Promise<void> = this.attempt(input).finally(() => this.pending.delete(done))
    this.pending.add(done)
    return done
  }

  /** Rejections not yet kept. */
  get waiting(): number {
    return this.pending.size
  }

  private async attempt(input: RejectionInput): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await this.store.add(input)
        this.deps.metrics.rejected.inc({ reason: input.reason })
        return
      } catch (err) {
        if (this.closed) {
          this.deps.log.error({ err, topic: input.topic }, 'shutdown: a rejection could not be kept')
          return
        }
        if (tries === 1) this.deps.log.error({ err, topic: input.topic }, 'cannot keep a rejection yet; retrying')
        await this.sleep(this.deps.retryMs ?? 1000)
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.sleepers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.sleepers.add(wake)
    })
  }

  /** Tries each waiting rejection once more, then stops retrying. Call before closing the store. */
  async close(): Promise<void> {
    this.closed = true
    for (const wake of [...this.sleepers]) wake()
    await Promise.all(this.pending)
  }
}
