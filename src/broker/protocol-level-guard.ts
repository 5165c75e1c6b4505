import type { Duplex } from 'node:stream'

/** Bytes up to a CONNECT's protocol level: header, Remaining Length (1-4), name length, 'MQIsdp', level. */
const PREFIX_BYTES = 1 + 4 + 2 + 6 + 1

// The levels mqtt-packet parses (3: MQTT 3.1, 4: 3.1.1, 5: 5.0); a set high bit (bridge mode) is ignored, as there.
const PARSED_LEVELS = new Set([3, 4, 5])

/** CONNACK "unacceptable protocol version" in MQTT 3.1.1 framing [MQTT-3.2.2.3]. */
export const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])

export type LevelVerdict = 'wait' | 'pass' | { readonly unacceptableLevel: number }

/**
 * Reads the protocol level of the first packet of a connection when it is a
 * CONNECT naming MQTT or MQIsdp. mqtt-packet fails such a CONNECT with any
 * level but 3, 4 or 5 ('Invalid protocol version') before Aedes sees it, and
 * the connection closes without the CONNACK 1 that [MQTT-3.1.2-2] asks for;
 * this check finds it first. Anything else ('pass') is the parser's business.
 */
export class ProtocolLevelCheck {
  private prefix = Buffer.alloc(0)
  private decided = false

  /** 'wait' until the level has arrived; then the verdict, once, and 'pass' ever after. */
  feed(chunk: Buffer): LevelVerdict {
    if (this.decided) return 'pass'
    this.prefix = Buffer.concat([this.prefix, chunk.subarray(0, PREFIX_BYTES - this.prefix.length)])
    const verdict = levelOf(this.prefix)
    if (verdict !== 'wait') {
      this.decided = true
      this.prefix = Buffer.alloc(0)
    }
    return verdict
  }
}

function levelOf(b: Buffer): LevelVerdict {
  if (b.length === 0) return 'wait'
  if (b[0] !== 0x10) return 'pass' // not a CONNECT with its reserved flags at 0 [MQTT-2.2.2-2]
  let i = 1
  let remaining = 0
  for (let multiplier = 1; ; multiplier *= 128) {
    if (i >= b.length) return 'wait'
    const byte = b[i++]!
    remaining += (byte & 0x7f) * multiplier
    if (!(byte & 0x80)) break
    if (i === 5) return 'pass' // a fifth length byte: malformed
  }
  if (b.length < i + 2) return 'wait'
  const nameLength = b.readUInt16BE(i)
  if (nameLength !== 4 && nameLength !== 6) return 'pass'
  // A packet that ends before its level is malformed, not of another version.
  if (remaining < 2 + nameLength + 1) return 'pass'
  if (b.length < i + 2 + nameLength + 1) return 'wait'
  const name = b.toString('latin1', i + 2, i + 2 + nameLength)
  if (name !== 'MQTT' && name !== 'MQIsdp') return 'pass'
  const level = b[i + 2 + nameLength]!
  return PARSED_LEVELS.has(level & 0x7f) ? 'pass' : { unacceptableLevel: level }
}

/**
 * Answers a CONNECT of a protocol level the MQTT parser does not know with
 * CONNACK 1 and closes the stream [MQTT-3.1.2-2], as Aedes itself does for
 * level 5. Like the packet size guard, it sees the chunks Aedes reads, but
 * only until the first packet's level is known; a CONNECT cannot be complete
 * before its level byte has arrived, so the parser never gets the whole
 * refused packet.
 */
export function guardProtocolLevel(stream: Duplex, onRefused: (level: number) => void): void {
  const check = new ProtocolLevelCheck()
  const read = stream.read.bind(stream)
  stream.read = (size?: number) => {
    const chunk: unknown = read(size)
    if (!Buffer.isBuffer(chunk)) return chunk
    const verdict = check.feed(chunk)
    if (verdict === 'wait') return chunk
    if (verdict === 'pass') {
      // Decided once per connection: from here on the reader reads past this guard.
      stream.read = read
      return chunk
    }
    stream.read = () => null
    onRefused(verdict.unacceptableLevel)
    stream.once('finish', () => stream.destroy())
    stream.end(CONNACK_UNACCEPTABLE_PROTOCOL)
    return null
  }
}
