import { TokenBucket } from './token-bucket.js'

export interface PublishThrottle {
  /**
   * Runs `proceed` now when the gateway's bucket has a token and nothing of
   * this connection is waiting; otherwise queues it behind the connection's
   * earlier publishes and runs it when its token is due. Returns true when it
   * was delayed.
   */
  run(gatewayId: string, connection: object, proceed: () => void): boolean
  /**
   * `run` in two halves, so a publish that proceeds at once needs no closure: takes the gateway's
   * token and returns -1 when the publish may proceed now, else how many milliseconds it must wait
   * (0: only behind the connection's earlier publishes); then it must be handed to `defer`.
   */
  admit(gatewayId: string, connection: object): number
  /** Queues a publish `admit` did not let through, behind the connection's earlier ones, for `waitMs`. */
  defer(connection: object, waitMs: number, proceed: () => void): void
  close(): void
}

interface Waiting {
  readonly dueMs: number
  readonly proceed: () => void
}

interface ConnectionQueue {
  readonly items: Waiting[]
  timer: NodeJS.Timeout | undefined
}

/**
 * The per-gateway publish rate (token bucket, bursts up to twice the rate).
 * Over the rate a publish is delayed, never dropped: the caller holds Aedes'
 * `authorizePublish` callback, and Aedes reads nothing more from that socket
 * until every packet of the chunk it is on has completed, so TCP pushes back
 * on the gateway. Per connection the publishes keep their order, so PUBACKs
 * go out in the order of the PUBLISHes [MQTT-4.6.0-2].
 */
export function createPublishThrottle(ratePerS: number): PublishThrottle {
  const now = () => performance.now()
  const buckets = new Map<string, TokenBucket>()
  const queues = new WeakMap<object, ConnectionQueue>()
  const armed = new Set<ConnectionQueue>()
  let closed = false

  function drain(queue: ConnectionQueue): void {
    queue.timer = undefined
    armed.delete(queue)
    const t = now()
    while (queue.items.length > 0 && queue.items[0]!.dueMs <= t) {
      const item = queue.items.shift()!
      item.proceed()
    }
    arm(queue)
  }

  function arm(queue: ConnectionQueue): void {
    const head = queue.items[0]
    if (!head || queue.timer || closed) return
    queue.timer = setTimeout(drain, Math.max(0, Math.ceil(head.dueMs - now())), queue)
    armed.add(queue)
  }

  function admit(gatewayId: string, connection: object): number {
    if (ratePerS <= 0) return -1
    const t = now()
    let bucket = buckets.get(gatewayId)
    if (!bucket) buckets.set(gatewayId, (bucket = new TokenBucket(ratePerS, 2 * ratePerS, t)))
    const waitMs = bucket.reserve(t)
    const queue = queues.get(connection)
    return waitMs === 0 && (!queue || queue.items.length === 0) ? -1 : waitMs
  }

  function defer(connection: object, waitMs: number, proceed: () => void): void {
    let queue = queues.get(connection)
    if (!queue) queues.set(connection, (queue = { items: [], timer: undefined }))
    queue.items.push({ dueMs: now() + waitMs, proceed })
    arm(queue)
  }

  return {
    run(gatewayId, connection, proceed) {
      const waitMs = admit(gatewayId, connection)
      if (waitMs < 0) {
        proceed()
        return false
      }
      defer(connection, waitMs, proceed)
      return waitMs > 0
    },
    admit,
    defer,
    close() {
      // At shutdown a waiting publish is dropped unprocessed: it was never acknowledged, so its
      // gateway sends it again, as it would any packet still unread in the socket.
      closed = true
      for (const queue of armed) {
        clearTimeout(queue.timer)
        queue.timer = undefined
        queue.items.length = 0
      }
      armed.clear()
    },
  }
}
