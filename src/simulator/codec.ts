import type { MessageTypes } from '../pipeline/proto-schema.js'
import type { MessageBody } from './messages.js'

/** Serialises a message body with its header, as the gateway sends it on the wire. */
export function encodeMessage(types: MessageTypes, body: MessageBody, seq: number, sentTsMs: number): Uint8Array {
  const { kind, ...items } = body
  const type = types[kind]
  return type.encode(type.fromObject({ seq, sentTsMs, ...items })).finish()
}

/** Per-topic sequence numbers: one more per message, wrapping at 2^32 like the proto's uint32. */
export function createSequencer(): (topic: string) => number {
  const last = new Map<string, number>()
  return (topic) => {
    const seq = ((last.get(topic) ?? 0) + 1) >>> 0
    last.set(topic, seq)
    return seq
  }
}
