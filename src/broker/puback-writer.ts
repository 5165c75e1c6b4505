import mqttPacket from 'mqtt-packet'
import type { Writable } from 'node:stream'

type WriteToStream = (packet: { cmd: string; messageId?: number }, stream: Writable, opts?: object) => boolean
type Patched = WriteToStream & { pubackWriter?: true }

function uncork(stream: Writable): void {
  stream.uncork()
}

/**
 * Aedes answers every QoS 1 PUBLISH with `mqtt.writeToStream({ cmd: 'puback', messageId }, conn)`
 * (lib/write.js, without options, so in MQTT 3.1.1's form, also for MQTT 5 clients). mqtt-packet
 * writes that as three `stream.write` calls (header, length, packet id), each a queued chunk of the
 * socket, and corks the socket with one `process.nextTick` per packet. This writes the same four
 * bytes (0x40, 2, id high, id low) as one chunk, and corks a socket at most once per tick: a
 * socket's PUBACKs of one tick still leave in one `writev`, with a third of the chunks. Every other
 * packet, and any call with options (mqtt.js' client), goes to mqtt-packet as before.
 * Returns whether it is in place (installing twice keeps one).
 */
export function installPubackWriter(): boolean {
  const target = mqttPacket as unknown as { writeToStream: Patched }
  const original = target.writeToStream
  if (original.pubackWriter) return true
  const patched: Patched = Object.assign(
    (packet: { cmd: string; messageId?: number }, stream: Writable, opts?: object): boolean => {
      const id = packet.messageId
      if (packet.cmd !== 'puback' || opts !== undefined || typeof id !== 'number' || id < 0 || id > 0xffff) return original(packet, stream, opts)
      if (!stream.writableCorked) {
        stream.cork()
        process.nextTick(uncork, stream)
      }
      const bytes = Buffer.allocUnsafe(4)
      bytes[0] = 0x40
      bytes[1] = 2
      bytes[2] = id >> 8
      bytes[3] = id & 0xff
      return stream.write(bytes)
    },
    { pubackWriter: true as const },
  )
  target.writeToStream = patched
  return true
}
