/**
 * One message as the broker received it, the unit of the log-first journal
 * (docs/delivery.md): what the acknowledgement waits for is these bytes on
 * disk, not their decoding.
 *
 *   offset  size  field
 *   0       4     payload length (u32 LE)
 *   4       8     receive time, Unix ms (f64 LE)
 *   12      2     topic length in bytes (u16 LE)
 *   14      1     gateway id length in bytes (u8)
 *   15      1     QoS (u8)
 *   16      t     topic, UTF-8
 *   16+t    g     gateway id, UTF-8
 *   16+t+g  n     payload
 */
export const FRAME_HEADER_BYTES = 16

export interface MessageFrame {
  readonly topic: string
  readonly gatewayId: string
  readonly qos: number
  readonly receivedMs: number
  /** A view into the bytes the frame was read from. */
  readonly payload: Buffer
}

/** About this many payload bytes make one point, for sizing reads before anything is decoded. */
const PAYLOAD_BYTES_PER_POINT_ESTIMATE = 40

/** The bytes a frame of these parts takes (`topicBytes`, `gatewayBytes`: their UTF-8 lengths). */
export function frameBytes(topicBytes: number, gatewayBytes: number, payloadBytes: number): number {
  // MQTT topics are at most 65,535 bytes [MQTT-1.5.3]; gateway ids are slugs of at most 63 characters.
  if (topicBytes > 0xffff || gatewayBytes > 0xff) throw new RangeError('topic or gateway id too long for a journal frame')
  return FRAME_HEADER_BYTES + topicBytes + gatewayBytes + payloadBytes
}

/**
 * Writes one frame at `pos` of `buf` (which has room: `frameBytes`) and returns where it ends. The
 * journal writes each message straight into its record this way: one copy of the payload.
 */
export function writeFrame(buf: Buffer, pos: number, topic: string, topicBytes: number, gatewayId: string, gatewayBytes: number, qos: number, receivedMs: number, payload: Buffer): number {
  buf.writeUInt32LE(payload.length, pos)
  buf.writeDoubleLE(receivedMs, pos + 4)
  buf.writeUInt16LE(topicBytes, pos + 12)
  buf[pos + 14] = gatewayBytes
  buf[pos + 15] = qos
  let at = pos + FRAME_HEADER_BYTES
  at += buf.write(topic, at, 'utf8')
  at += buf.write(gatewayId, at, 'utf8')
  return at + payload.copy(buf, at)
}

/** Encodes one frame into one buffer (a single allocation). */
export function encodeFrame(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer): Buffer {
  const topicBytes = Buffer.byteLength(topic)
  const gatewayBytes = Buffer.byteLength(gatewayId)
  const buf = Buffer.allocUnsafe(frameBytes(topicBytes, gatewayBytes, payload.length))
  writeFrame(buf, 0, topic, topicBytes, gatewayId, gatewayBytes, qos, receivedMs, payload)
  return buf
}

/** Reads the UTF-8 text at `start`..`end` of `buf` (a reader may return the same string for the same bytes). */
export type TextReader = (buf: Buffer, start: number, end: number) => string

const utf8: TextReader = (buf, start, end) => buf.toString('utf8', start, end)

/**
 * The frames packed end to end in `buf`; throws on a truncated frame (the record's checksum makes
 * that a bug). Topics and gateway ids are read with `text`: they repeat from message to message.
 */
export function decodeFrames(buf: Buffer, text: TextReader = utf8): MessageFrame[] {
  const frames: MessageFrame[] = []
  let pos = 0
  while (pos < buf.length) {
    if (buf.length - pos < FRAME_HEADER_BYTES) throw new RangeError(`truncated frame header at ${pos}`)
    const payloadBytes = buf.readUInt32LE(pos)
    const receivedMs = buf.readDoubleLE(pos + 4)
    const topicBytes = buf.readUInt16LE(pos + 12)
    const gatewayBytes = buf[pos + 14]!
    const qos = buf[pos + 15]!
    const topicAt = pos + FRAME_HEADER_BYTES
    const payloadAt = topicAt + topicBytes + gatewayBytes
    const end = payloadAt + payloadBytes
    if (end > buf.length) throw new RangeError(`truncated frame at ${pos}`)
    frames.push({
      topic: text(buf, topicAt, topicAt + topicBytes),
      gatewayId: text(buf, topicAt + topicBytes, payloadAt),
      qos,
      receivedMs,
      payload: buf.subarray(payloadAt, end),
    })
    pos = end
  }
  return frames
}

/**
 * Whether any frame in `buf` has a topic starting with the bytes `prefix`, read from the headers
 * alone: nothing is decoded or allocated, so a thread that handles only some topics can skip the
 * records that hold none of them.
 */
export function anyTopicStartsWith(buf: Buffer, prefix: Buffer): boolean {
  const n = prefix.length
  let pos = 0
  while (pos + FRAME_HEADER_BYTES <= buf.length) {
    const payloadBytes = buf.readUInt32LE(pos)
    const topicBytes = buf.readUInt16LE(pos + 12)
    const topicAt = pos + FRAME_HEADER_BYTES
    // The first byte inline: most topics differ there, and a native compare per frame showed in profiles.
    if (topicBytes >= n && (n === 0 || buf[topicAt] === prefix[0]) && buf.compare(prefix, 0, n, topicAt, topicAt + n) === 0) return true
    pos = topicAt + topicBytes + buf[pos + 14]! + payloadBytes
  }
  return false
}

/** The points a frame is expected to carry, from its payload size alone (at least one). */
export function estimatedPoints(payloadBytes: number): number {
  return Math.max(1, Math.floor(payloadBytes / PAYLOAD_BYTES_PER_POINT_ESTIMATE))
}
