import { deferred, type Deferred } from './deferred.js'
import { frameBytes, writeFrame } from './message-frame.js'
import { HEADER_BYTES, encodeRecord, frameRecordShell, sealRecord } from './record-codec.js'

const NOTHING = Buffer.alloc(0)

/**
 * The messages of one journal record: those appended in one tick of the event loop
 * (segment-journal.ts), as line protocol or as received. A received message is kept as its parts
 * until the record is encoded, and its frame (message-frame.ts) is then written straight into the
 * record's buffer: a payload is copied once on the acknowledgement path, and no buffer of its own
 * is allocated per message. A record is used again for a later tick once encoded (`reset`): its
 * arrays keep their room, so a tick of one or two messages (the common case below full load)
 * allocates none of them again.
 */
export class TickRecord {
  /** Messages held. */
  messages = 0
  /** Characters of line protocol, or bytes of frames: the record's payload, about. */
  chars = 0
  /** Points the frames are expected to carry. */
  estimatedLines = 0
  /** Settled with the record's group commit: every message of the record shares it. */
  done: Deferred = deferred()
  private readonly lines: string[] = []
  private readonly topics: string[] = []
  /** UTF-8 bytes of each topic; -1: the payload is a frame encoded already (`addFrame`). */
  private readonly topicBytes: number[] = []
  private readonly gateways: string[] = []
  private readonly gatewayBytes: number[] = []
  private readonly qos: number[] = []
  private readonly times: number[] = []
  private readonly payloads: Buffer[] = []
  private lastGateway = ''
  private lastGatewayBytes = 0

  /** Frames held (the arrays below are longer: they keep the room of earlier ticks). */
  private frames = 0

  /** What it holds (a record holds one format); undefined while empty. */
  get format(): 'lines' | 'frames' | undefined {
    return this.lines.length > 0 ? 'lines' : this.frames > 0 ? 'frames' : undefined
  }

  /** Empties it for another tick, with a new `done`; it lets go of the messages it held. Returns itself. */
  reset(): this {
    for (let i = 0; i < this.frames; i++) {
      this.topics[i] = ''
      this.gateways[i] = ''
      this.payloads[i] = NOTHING
    }
    this.lines.length = 0
    this.frames = 0
    this.messages = 0
    this.chars = 0
    this.estimatedLines = 0
    this.lastGateway = ''
    this.lastGatewayBytes = 0
    this.done = deferred()
    return this
  }

  addLines(lines: readonly string[]): void {
    for (const l of lines) {
      this.lines.push(l)
      this.chars += l.length
    }
    this.messages++
  }

  /** Adds one message as received; throws a RangeError, adding nothing, for a topic or gateway id too long for a frame. */
  addMessage(topic: string, gatewayId: string, qos: number, receivedMs: number, payload: Buffer, estimatedLines: number): void {
    const topicBytes = Buffer.byteLength(topic)
    // A socket's messages come from one gateway: its id is measured once per run of them.
    if (gatewayId !== this.lastGateway) {
      this.lastGatewayBytes = Buffer.byteLength(gatewayId)
      this.lastGateway = gatewayId
    }
    const gatewayBytes = this.lastGatewayBytes
    const n = frameBytes(topicBytes, gatewayBytes, payload.length)
    this.push(topic, topicBytes, gatewayId, gatewayBytes, qos, receivedMs, payload, n, estimatedLines)
  }

  /** Adds a frame encoded already (message-frame.ts `encodeFrame`). */
  addFrame(frame: Buffer, estimatedLines: number): void {
    this.push('', -1, '', 0, 0, 0, frame, frame.length, estimatedLines)
  }

  private push(topic: string, topicBytes: number, gatewayId: string, gatewayBytes: number, qos: number, receivedMs: number, payload: Buffer, n: number, estimatedLines: number): void {
    const i = this.frames++
    this.topics[i] = topic
    this.topicBytes[i] = topicBytes
    this.gateways[i] = gatewayId
    this.gatewayBytes[i] = gatewayBytes
    this.qos[i] = qos
    this.times[i] = receivedMs
    this.payloads[i] = payload
    this.chars += n
    this.estimatedLines += estimatedLines
    this.messages++
  }

  /** The record (record-codec.ts), checksummed. */
  encode(seq: number, appendMs: number): Buffer {
    if (this.lines.length > 0) return encodeRecord(seq, appendMs, this.lines, this.messages)
    const buf = frameRecordShell(seq, appendMs, this.chars, this.messages, this.estimatedLines)
    let pos = HEADER_BYTES
    for (let i = 0; i < this.frames; i++) {
      const topicBytes = this.topicBytes[i]!
      if (topicBytes < 0) pos += this.payloads[i]!.copy(buf, pos)
      else pos = writeFrame(buf, pos, this.topics[i]!, topicBytes, this.gateways[i]!, this.gatewayBytes[i]!, this.qos[i]!, this.times[i]!, this.payloads[i]!)
    }
    return sealRecord(buf)
  }
}
