import type { Duplex } from 'node:stream'

/**
 * Follows MQTT framing over a byte stream without parsing packets: a fixed
 * header byte, the Remaining Length (a variable byte integer of 1-4 bytes,
 * [MQTT-2.2.3]), then that many bytes. Reports the first packet whose declared
 * length exceeds the limit, as soon as its length is known.
 */
export class FrameScanner {
  private state: 'header' | 'length' | 'body' | 'off' = 'header'
  private length = 0
  private multiplier = 1
  private lengthBytes = 0
  private remaining = 0

  constructor(private readonly maxRemainingLength: number) {}

  /** Returns the declared length of an oversized packet, or undefined while all is well. */
  feed(chunk: Buffer): number | undefined {
    let i = 0
    const n = chunk.length
    while (i < n && this.state !== 'off') {
      if (this.state === 'header') {
        i++
        this.state = 'length'
        this.length = 0
        this.multiplier = 1
        this.lengthBytes = 0
      } else if (this.state === 'length') {
        const b = chunk[i++]!
        this.length += (b & 0x7f) * this.multiplier
        this.multiplier *= 128
        this.lengthBytes++
        if (b & 0x80) {
          // A fifth length byte is malformed; the MQTT parser closes the connection for it.
          if (this.lengthBytes === 4) this.state = 'off'
          continue
        }
        if (this.length > this.maxRemainingLength) {
          this.state = 'off'
          return this.length
        }
        this.remaining = this.length
        this.state = this.remaining === 0 ? 'header' : 'body'
      } else {
        const take = Math.min(this.remaining, n - i)
        i += take
        this.remaining -= take
        if (this.remaining === 0) this.state = 'header'
      }
    }
    return undefined
  }
}

/**
 * Guards memory at the socket: the MQTT parser (mqtt-packet) buffers a packet
 * until all of its declared length has arrived, up to 256 MB, so a client
 * announcing a huge packet and trickling bytes would hold that much. Every
 * chunk Aedes reads (it reads with `read()` on 'readable') passes the scanner
 * first; an oversized packet destroys the stream before its body is buffered.
 */
export function guardPacketSize(stream: Duplex, maxPacketBytes: number, onTooLarge: (declaredBytes: number) => void): void {
  const scanner = new FrameScanner(maxPacketBytes)
  const read = stream.read.bind(stream)
  stream.read = (size?: number) => {
    const chunk: unknown = read(size)
    if (Buffer.isBuffer(chunk)) {
      const declared = scanner.feed(chunk)
      if (declared !== undefined) {
        onTooLarge(declared)
        stream.destroy()
        return null
      }
    }
    return chunk
  }
}
