import mqttPacket from 'mqtt-packet'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { installPubackWriter } from '../../src/broker/puback-writer.js'

type WriteToStream = (packet: object, stream: Writable, opts?: object) => boolean
const target = mqttPacket as unknown as { writeToStream: WriteToStream }
const original = target.writeToStream

/** A stream that records each write and each writev, as a socket would receive them. */
function sink() {
  const writes: Buffer[][] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push([chunk])
      cb()
    },
    writev(chunks, cb) {
      writes.push(chunks.map((c) => c.chunk as Buffer))
      cb()
    },
  })
  return { stream, writes, bytes: () => Buffer.concat(writes.flat()) }
}

const nextTick = () => new Promise((r) => process.nextTick(r))

describe('PUBACK writer', () => {
  it('writes the bytes mqtt-packet writes, one chunk per PUBACK, a tick\'s PUBACKs in one writev', async () => {
    const ids = [0, 1, 255, 256, 4660, 65535]
    const before = sink()
    for (const id of ids) original({ cmd: 'puback', messageId: id }, before.stream)
    await nextTick()
    expect(installPubackWriter()).toBe(true)
    expect(installPubackWriter()).toBe(true)
    expect(target.writeToStream).not.toBe(original)
    const after = sink()
    for (const id of ids) expect(target.writeToStream({ cmd: 'puback', messageId: id }, after.stream)).toBe(true)
    expect(after.writes).toEqual([])
    await nextTick()
    expect(after.bytes().equals(before.bytes())).toBe(true)
    expect(after.writes.map((w) => w.length)).toEqual([ids.length])
    // mqtt-packet's own: three chunks per PUBACK.
    expect(before.writes.flat().length).toBe(3 * ids.length)
  })

  it('leaves every other packet, a call with options and a bad packet id to mqtt-packet', async () => {
    installPubackWriter()
    const ours = sink()
    const theirs = sink()
    const packets = [{ cmd: 'pubrec', messageId: 7 }, { cmd: 'pingresp' }, { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 9 }]
    for (const p of packets) {
      target.writeToStream(p, ours.stream)
      original(p, theirs.stream)
    }
    target.writeToStream({ cmd: 'puback', messageId: 3 }, ours.stream, { protocolVersion: 5 })
    original({ cmd: 'puback', messageId: 3 }, theirs.stream, { protocolVersion: 5 })
    await nextTick()
    expect(ours.bytes().equals(theirs.bytes())).toBe(true)
    const bad = sink()
    const destroyed = new Promise((r) => bad.stream.on('error', r))
    target.writeToStream({ cmd: 'puback' }, bad.stream)
    await expect(destroyed).resolves.toBeInstanceOf(Error)
  })
})
