import { internedText, TEXTS_INTERNED } from '../pipeline/byte-keyed-cache.js'

/** The part of mqtt-packet's Parser this reads around (lib/parser.js, mqtt-packet 9). */
export interface PacketParser {
  parse(buf: Buffer): number
  emit(event: 'packet', packet: object): boolean
  readonly error: unknown
  /** The CONNECT packet once one is parsed (its protocolVersion); `{}` before. */
  readonly settings: { readonly protocolVersion?: number }
}

/** A PUBLISH as mqtt-packet makes it (packet.js's fields in their order, then the packet id). */
export interface PublishPacket {
  cmd: 'publish'
  retain: boolean
  qos: number
  dup: boolean
  length: number
  topic: string
  payload: Buffer
  messageId?: number
}

/**
 * Topic names, shared by every connection (most repeat message after message): one string per
 * topic, not one per message. Bounded, so a client inventing topics cannot grow memory.
 */
const topicOf = internedText(TEXTS_INTERNED)
/**
 * Only topics this long or shorter are interned, and only an authenticated client's: the cache
 * keeps its bytes and string, and 100,000 long topics sent behind a wrong-secret CONNECT (a PUBLISH
 * may follow CONNECT in one write) would have held gigabytes. Longer topics are refused anyway
 * (MQTT_MAX_TOPIC_LENGTH, 512 by default).
 */
export const MAX_INTERNED_TOPIC_BYTES = 1024

/**
 * Reads the PUBLISH packets of MQTT 3.1 and 3.1.1 itself, from the socket's chunks, and hands every
 * other packet to mqtt-packet's parser whole. mqtt-packet appends each chunk to a BufferList and
 * reads every number through a slice of it (bl 6: `readUInt8` is `slice(o, o + 1).readUInt8(0)`),
 * so a publish cost a dozen short-lived buffers and arrays before its payload: a fifth of what the
 * broker's thread allocated per message (docs/decisions.md, "The broker reads publishes itself").
 *
 * Packets are framed here (a fixed header byte, then the Remaining Length, 1-4 bytes of 7 bits
 * [MQTT-2.2.3]); a packet whose end has not arrived waits, as its chunks, for the rest. A publish is
 * read here once CONNECT has been parsed, at MQTT 3.1 or 3.1.1, with QoS 0-2 and a topic and packet
 * id that fit it; the packet is the one mqtt-packet would emit, field for field, and goes to the
 * same listener (Aedes' `enqueue`), in order. Everything else (CONNECT itself, MQTT 5's properties,
 * QoS 3, a topic longer than its packet, every other type) goes to mqtt-packet as one whole packet,
 * so its checks and errors are unchanged. Once it reports an error (Aedes then closes the
 * connection), or a Remaining Length is malformed, every byte that follows goes to it as it comes.
 * Topics are interned once `authenticated()` says the client is (see MAX_INTERNED_TOPIC_BYTES).
 * Returns false, changing nothing, when `parser` is not such a parser (another Aedes or mqtt-packet).
 */
export function readPublishesWhole(parser: PacketParser | undefined, authenticated: () => boolean = () => true): boolean {
  if (typeof parser?.parse !== 'function' || typeof parser.emit !== 'function' || typeof parser.settings !== 'object') return false
  const parse = parser.parse.bind(parser)
  /** Chunks handed in while one is being read: a packet's listener may read the socket again. */
  const queue: Buffer[] = []
  let reading = false
  /** The start of a packet whose end has not arrived: its chunks, their bytes, and the bytes it needs (0 until its length is known). */
  let parts: Buffer[] = []
  let partBytes = 0
  let needed = 0
  /** After a protocol error: mqtt-packet has the rest of the connection to itself. */
  let passThrough = false

  /** Emits the whole publish from `at` to `end` (its Remaining Length starts at `body`); false to leave it to mqtt-packet. */
  const publish = (buf: Buffer, at: number, body: number, end: number): boolean => {
    const first = buf[at]!
    const qos = (first >> 1) & 3
    const level = parser.settings.protocolVersion
    if (first >> 4 !== 3 || qos === 3 || (level !== 3 && level !== 4) || end - body < 2) return false
    const topicEnd = body + 2 + buf.readUInt16BE(body)
    const idEnd = topicEnd + (qos > 0 ? 2 : 0)
    if (idEnd > end) return false
    const packet: PublishPacket = {
      cmd: 'publish',
      retain: (first & 1) !== 0,
      qos,
      dup: (first & 8) !== 0,
      length: end - body,
      topic: topicEnd - body - 2 <= MAX_INTERNED_TOPIC_BYTES && authenticated() ? topicOf(buf, body + 2, topicEnd) : buf.toString('utf8', body + 2, topicEnd),
      payload: buf.subarray(idEnd, end),
    }
    if (qos > 0) packet.messageId = buf.readUInt16BE(topicEnd)
    parser.emit('packet', packet)
    return true
  }

  const read = (chunk: Buffer): void => {
    if (passThrough) return void parse(chunk)
    let buf = chunk
    if (partBytes > 0) {
      parts.push(chunk)
      partBytes += chunk.length
      if (partBytes < needed) return
      buf = Buffer.concat(parts, partBytes)
      parts = []
      partBytes = 0
      needed = 0
    }
    const n = buf.length
    let at = 0
    while (at < n) {
      let length = 0
      let p = at + 1
      let mul = 1
      let complete = false
      for (let i = 0; i < 4 && p < n; i++) {
        const b = buf[p++]!
        length += (b & 0x7f) * mul
        mul *= 128
        if (b < 0x80) {
          complete = true
          break
        }
      }
      if (!complete) {
        // Four bytes, all continued: not a length. mqtt-packet says so.
        if (p - at > 4) {
          passThrough = true
          return void parse(buf.subarray(at))
        }
        break
      }
      const end = p + length
      if (end > n) {
        needed = end - at
        break
      }
      if (!publish(buf, at, p, end)) {
        parse(buf.subarray(at, end))
        if (parser.error) {
          passThrough = true
          // mqtt-packet stopped at its error: what followed in the chunk it never parsed.
          return
        }
      }
      at = end
    }
    if (at < n) {
      parts = [buf.subarray(at)]
      partBytes = n - at
    }
  }

  parser.parse = (buf: Buffer): number => {
    if (reading) {
      queue.push(buf)
      return partBytes
    }
    reading = true
    try {
      read(buf)
      for (let next = queue.shift(); next; next = queue.shift()) read(next)
    } finally {
      reading = false
    }
    return partBytes
  }
  return true
}
