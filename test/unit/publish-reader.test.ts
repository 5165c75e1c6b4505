import { Aedes } from 'aedes'
import { connectAsync } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { createServer, type AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { MAX_INTERNED_TOPIC_BYTES, readPublishesWhole, type PacketParser } from '../../src/broker/publish-reader.js'
import { mulberry32 } from '../../src/simulator/prng.js'

type Parser = PacketParser & { on(event: string, fn: (x: never) => void): void; readonly _list: { readonly length: number } }

/** What a parser emitted, in order: packets as plain data (payloads as hex), errors as their messages. */
function recording(fast: boolean) {
  const parser = mqttPacket.parser() as unknown as Parser
  const out: unknown[] = []
  const objects: object[] = []
  parser.on('packet', (p: Record<string, unknown>) => {
    objects.push(p)
    out.push({ ...p, payload: Buffer.isBuffer(p.payload) ? p.payload.toString('hex') : p.payload })
  })
  parser.on('error', (e: Error) => out.push(`error: ${e.message}`))
  if (fast) readPublishesWhole(parser)
  return { parser, out, objects }
}

const connect = (protocolVersion: 3 | 4 | 5) =>
  mqttPacket.generate({ cmd: 'connect', protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT', protocolVersion, clientId: 'gw-1', clean: true, keepalive: 30 })

function publish(rnd: () => number, protocolVersion: 3 | 4 | 5): Buffer {
  const qos = Math.floor(rnd() * 3) as 0 | 1 | 2
  const topicLength = Math.floor(rnd() * 4) === 0 ? Math.floor(rnd() * 300) : Math.floor(rnd() * 40)
  const topic = Array.from({ length: topicLength }, (_, i) => (i % 7 === 6 ? '/' : rnd() < 0.05 ? 'é' : String.fromCharCode(97 + Math.floor(rnd() * 26)))).join('')
  // Payload sizes across one, two and three bytes of Remaining Length.
  const size = [0, 1, 50, 126, 200, 2_000, 20_000][Math.floor(rnd() * 7)]!
  const payload = Buffer.alloc(size, Math.floor(rnd() * 256))
  const packet = { cmd: 'publish' as const, topic, payload, qos, retain: rnd() < 0.2, dup: qos > 0 && rnd() < 0.2, messageId: qos > 0 ? Math.floor(rnd() * 65536) : undefined }
  return mqttPacket.generate(protocolVersion === 5 ? { ...packet, properties: rnd() < 0.5 ? { contentType: 'x' } : {} } : packet, { protocolVersion })
}

/** Packets a gateway could send, with some of every kind the reader leaves to mqtt-packet. */
function traffic(seed: number, protocolVersion: 3 | 4 | 5, count: number): Buffer {
  const rnd = mulberry32(seed)
  const parts = [connect(protocolVersion)]
  for (let i = 0; i < count; i++) {
    const r = rnd()
    if (r < 0.8) parts.push(publish(rnd, protocolVersion))
    else if (r < 0.85) parts.push(mqttPacket.generate({ cmd: 'pingreq' }))
    else if (r < 0.9) parts.push(mqttPacket.generate({ cmd: 'puback', messageId: i }, { protocolVersion }))
    else if (r < 0.95) parts.push(mqttPacket.generate({ cmd: 'subscribe', messageId: i + 1, subscriptions: [{ topic: 'a/#', qos: 1 }] }, { protocolVersion }))
    else parts.push(mqttPacket.generate({ cmd: 'pubrel', messageId: i + 2 }, { protocolVersion }))
  }
  return Buffer.concat(parts)
}

/** `bytes` cut at random places: socket chunks of 1 byte to a few KB. */
function chunks(bytes: Buffer, rnd: () => number): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length; ) {
    const n = rnd() < 0.3 ? 1 + Math.floor(rnd() * 8) : 1 + Math.floor(rnd() * 6_000)
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

function feedBoth(cut: readonly Buffer[]) {
  const reference = recording(false)
  const fast = recording(true)
  for (const c of cut) {
    reference.parser.parse(c)
    fast.parser.parse(c)
  }
  return { reference, fast }
}

describe('reading whole publishes from the socket chunk', () => {
  it.each([3, 4, 5] as const)('emits what mqtt-packet emits, in order, however MQTT %i traffic is cut into chunks', (level) => {
    for (let seed = 1; seed <= 25; seed++) {
      const bytes = traffic(seed, level, 120)
      const { reference, fast } = feedBoth(chunks(bytes, mulberry32(1000 + seed)))
      expect(reference.out.length).toBeGreaterThan(100)
      expect(fast.out).toEqual(reference.out)
      // Publishes of MQTT 3.1 and 3.1.1 are read here (plain objects), not by mqtt-packet (its Packet class).
      const own = fast.objects.filter((p) => p.constructor === Object).length
      if (level === 5) expect(own).toBe(0)
      else expect(own).toBeGreaterThan(80)
    }
  })

  it('reads publishes itself once CONNECT is parsed, and hands mqtt-packet whole packets only', () => {
    const pubs = [0, 1, 1].map((qos, i) => mqttPacket.generate({ cmd: 'publish', topic: `iiot/v1/z/f/l/m${i}/telemetry`, payload: Buffer.from([i, 2, 3]), qos: qos as 0 | 1, messageId: qos ? 100 + i : undefined, retain: false, dup: false }))
    const { reference, fast } = feedBoth([connect(4), Buffer.concat(pubs)])
    expect(fast.out).toEqual(reference.out)
    // Only the CONNECT went through mqtt-packet's Packet class; the publishes are the reader's own.
    expect(fast.objects.map((p) => p.constructor === Object)).toEqual([false, true, true, true])
    expect(reference.objects.every((p) => p.constructor !== Object)).toBe(true)
    expect(fast.parser._list.length).toBe(0)
    // A publish cut anywhere, even inside its Remaining Length, waits for its end and is read here.
    const big = mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(20_000, 7), qos: 1, messageId: 9, retain: false, dup: false })
    const cut = feedBoth([connect(4), big.subarray(0, 1), big.subarray(1, 2), big.subarray(2, 5000), big.subarray(5000)])
    expect(cut.fast.out).toEqual(cut.reference.out)
    expect(cut.fast.objects[1]!.constructor).toBe(Object)
  })

  it('leaves a publish before CONNECT, QoS 3, a malformed length and a topic longer than its packet to mqtt-packet, errors included', () => {
    const ok = mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 5, retain: false, dup: false })
    const qos3 = Buffer.from(ok)
    qos3[0] = 0x36
    const longTopic = Buffer.from([0x30, 0x04, 0x00, 0x09, 0x61, 0x62])
    const badLength = Buffer.from([0x32, 0xff, 0xff, 0xff, 0xff, 0x01])
    const empty = Buffer.from([0x30, 0x00])
    const cuts = [[ok, connect(4), ok], [connect(4), qos3, ok], [connect(4), longTopic, ok], [connect(4), Buffer.concat([ok, longTopic, ok]), ok], [connect(4), ok, badLength, ok], [connect(4), Buffer.concat([ok, badLength.subarray(0, 3)]), badLength.subarray(3), ok], [connect(4), empty, ok]]
    for (const cut of cuts) {
      const { reference, fast } = feedBoth(cut)
      expect(fast.out).toEqual(reference.out)
    }
    const { fast } = feedBoth([connect(4), qos3])
    expect(fast.out.at(-1)).toMatch(/^error: /)
  })

  it('keeps the order when a packet\'s listener hands the parser the next chunk while one is being read', () => {
    const pub = (i: number) => mqttPacket.generate({ cmd: 'publish', topic: `t/${i}`, payload: Buffer.from([i]), qos: 1, messageId: i + 1, retain: false, dup: false })
    const later = Buffer.concat([pub(3), pub(4)])
    const run = (fast: boolean) => {
      const r = recording(fast)
      let handed = false
      // As Aedes' nextBatch does: a packet completed at once reads the socket again, from inside the parse.
      r.parser.on('packet', (p: { topic?: string }) => {
        if (p.topic === 't/1' && !handed) {
          handed = true
          r.parser.parse(later)
        }
      })
      r.parser.parse(connect(4))
      r.parser.parse(Buffer.concat([pub(0), pub(1), pub(2)]))
      return r.out.map((p) => (p as { topic?: string }).topic)
    }
    expect(run(true)).toEqual([null, 't/0', 't/1', 't/2', 't/3', 't/4'])
    // mqtt-packet alone, given the same, emits t/1 twice: its packet in progress is shared state.
    expect(run(false)).not.toEqual(run(true))
  })

  it('runs inside Aedes: real mqtt.js clients publish at QoS 0, 1 and 2 and a subscriber gets every message, in order per topic', async () => {
    const broker = await Aedes.createBroker()
    let read = 0
    const server = createServer((socket) => {
      const parser = (broker.handle(socket) as unknown as { _parser?: Parser })._parser
      expect(readPublishesWhole(parser)).toBe(true)
      parser!.on('packet', (p: object) => void (p.constructor === Object && read++))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
    const sub = await connectAsync(url, { clientId: 'sub', protocolVersion: 4 })
    const pub = await connectAsync(url, { clientId: 'pub', protocolVersion: 4 })
    try {
      const got: string[] = []
      const all = new Promise<void>((resolve) => sub.on('message', (topic, payload) => void (got.push(`${topic} ${payload.toString()}`) === 30 && resolve())))
      await sub.subscribeAsync('t/#', { qos: 2 })
      const sent = Array.from({ length: 30 }, (_, i) => pub.publishAsync(`t/${i % 3}`, `m${i}`, { qos: (i % 3) as 0 | 1 | 2 }))
      await Promise.all(sent)
      await all
      // MQTT orders messages per topic and QoS (each topic here has one QoS), not across them.
      for (const topic of ['t/0', 't/1', 't/2']) {
        expect(got.filter((g) => g.startsWith(`${topic} `))).toEqual(Array.from({ length: 30 }, (_, i) => `t/${i % 3} m${i}`).filter((g) => g.startsWith(`${topic} `)))
      }
      // Every publish went through the reader (the subscriber's SUBSCRIBE and both CONNECTs did not).
      expect(read).toBe(30)
      expect(readPublishesWhole(undefined)).toBe(false)
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()])
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

describe('topics kept for reuse', () => {
  it('are only those of an authenticated client and at most MAX_INTERNED_TOPIC_BYTES long; every topic still reads right', () => {
    const parser = mqttPacket.parser() as unknown as Parser
    const topics: string[] = []
    parser.on('packet', (p: { cmd: string; topic: string }) => void (p.cmd === 'publish' && topics.push(p.topic)))
    let asked = 0
    let authenticated = false
    readPublishesWhole(parser, () => (asked++, authenticated))
    parser.parse(connect(4))
    const long = 'a/'.repeat(MAX_INTERNED_TOPIC_BYTES)
    const pub = (topic: string) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false })
    parser.parse(pub('iiot/v1/z/f/l/m/telemetry'))
    expect(asked).toBe(1)
    authenticated = true
    parser.parse(pub(long))
    // Too long to be kept: not even asked.
    expect(asked).toBe(1)
    parser.parse(pub('iiot/v1/z/f/l/m/state'))
    expect(asked).toBe(2)
    expect(topics).toEqual(['iiot/v1/z/f/l/m/telemetry', long, 'iiot/v1/z/f/l/m/state'])
  })
})
