import { KINDS, type Kind } from '../domain/topic.js'

export interface Stats {
  /** Messages handed to the MQTT client. */
  published: number
  /** Publishes confirmed: PUBACK at QoS 1, written to the socket at QoS 0. */
  acked: number
  /** Publishes that failed (encode error, connection closed before the ack). */
  errors: number
  /** Messages not generated because the gateway was offline or too far behind. */
  skipped: number
  readonly byKind: Record<Kind, number>
}

export function createStats(): Stats {
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>
  return { published: 0, acked: 0, errors: 0, skipped: 0, byKind }
}

/** One human-readable progress line; `prev` gives the publish rate since the last line. */
export function formatStats(stats: Stats, prev: { published: number; atMs: number }, nowMs: number, connected: number, gateways: number): string {
  const seconds = Math.max(0.001, (nowMs - prev.atMs) / 1000)
  const rate = Math.round((stats.published - prev.published) / seconds)
  const kinds = KINDS.map((k) => `${k}=${stats.byKind[k]}`).join(' ')
  return `published=${stats.published} acked=${stats.acked} errors=${stats.errors} skipped=${stats.skipped} rate=${rate}/s connected=${connected}/${gateways} | ${kinds}`
}
