import type { Socket } from 'node:net'
import type { LimitReporter } from './limit-reporter.js'
import { TokenBucket } from './token-bucket.js'

export interface ConnectionGateOptions {
  /** New connections per second over all listeners; 0 = unlimited. Bursts up to twice the rate. */
  readonly ratePerS: number
  /** The same per source address; 0 = unlimited. */
  readonly ratePerAddressPerS: number
}

export interface ConnectionGate {
  /** True when the socket may proceed; otherwise it has been destroyed and the refusal counted. */
  admit(socket: Socket): boolean
  close(): void
}

// Past this many tracked addresses the per-address buckets are dropped (fail open)
// rather than letting a spoofing flood grow the map without bound.
const MAX_TRACKED_ADDRESSES = 100_000
const SWEEP_INTERVAL_MS = 30_000

/**
 * Token buckets on new connections, checked when the TCP connection is
 * accepted: a refused socket is destroyed before any TLS handshake or MQTT
 * parsing, so a reconnect storm or a looping device costs almost nothing.
 */
export function createConnectionGate(opts: ConnectionGateOptions, report: LimitReporter): ConnectionGate {
  const now = () => performance.now()
  const global = opts.ratePerS > 0 ? new TokenBucket(opts.ratePerS, 2 * opts.ratePerS, now()) : undefined
  const perAddress = new Map<string, TokenBucket>()
  // Idle (refilled) buckets are forgotten, so the map holds only recently active addresses.
  const sweeper = setInterval(() => {
    const t = now()
    for (const [address, bucket] of perAddress) if (bucket.isFull(t)) perAddress.delete(address)
  }, SWEEP_INTERVAL_MS)
  sweeper.unref()

  function addressBucket(address: string, t: number): TokenBucket {
    let bucket = perAddress.get(address)
    if (!bucket) {
      if (perAddress.size >= MAX_TRACKED_ADDRESSES) perAddress.clear()
      bucket = new TokenBucket(opts.ratePerAddressPerS, 2 * opts.ratePerAddressPerS, t)
      perAddress.set(address, bucket)
    }
    return bucket
  }

  return {
    admit(socket) {
      const t = now()
      const address = socket.remoteAddress ?? 'unknown'
      // The address is checked first, so one looping device does not spend the global budget.
      if (opts.ratePerAddressPerS > 0 && !addressBucket(address, t).tryTake(t)) {
        report('connect_rate_address', { address })
        socket.destroy()
        return false
      }
      if (global && !global.tryTake(t)) {
        report('connect_rate_global', { address })
        socket.destroy()
        return false
      }
      return true
    },
    close() {
      clearInterval(sweeper)
      perAddress.clear()
    },
  }
}
