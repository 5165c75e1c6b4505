import type { Kind } from '../../src/domain/topic.js'
import { encode } from './gateway.js'
import { generate } from './raw-mqtt.js'
import { mulberry32 } from '../../src/simulator/prng.js'

/** A seeded PRNG (mulberry32): the same seed gives the same inputs. */
export type Rng = () => number

export { mulberry32 }

export const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, 0, xs.length - 1)]!
export const bytes = (rng: Rng, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rng, 0, 255)))

/** Topics gateway gw-a (zone za, factory fa) may publish to, by kind. */
export const GW_A_TOPICS: Readonly<Record<Kind, string>> = {
  telemetry: 'iiot/v1/za/fa/l1/m1/telemetry',
  state: 'iiot/v1/za/fa/l1/m2/state',
  production: 'iiot/v1/za/fa/l1/m1/production',
  quality: 'iiot/v1/za/fa/l1/m2/quality',
  connectivity: 'iiot/v1/za/fa/_gateway/gw-a/connectivity',
  material: 'iiot/v1/za/fa/l1/m1/material',
}
const KINDS = Object.keys(GW_A_TOPICS) as Kind[]

/** A valid message of `kind`, its items stamped `tsMs` if given (else within the last minute). */
export function validPayload(rng: Rng, kind: Kind, nowMs: number, tsMs?: number): Buffer {
  const ts = tsMs ?? nowMs - int(rng, 0, 60_000)
  const seq = int(rng, 1, 1e6)
  switch (kind) {
    case 'telemetry':
      return encode(kind, { seq, sentTsMs: nowMs, samples: [{ signal: 'fuzz.temp', doubleValue: rng() * 100, unit: 'degC', tsMs: ts }, { signal: 'fuzz.count', intValue: int(rng, 0, 1e6), tsMs: ts }, { signal: 'fuzz.door', boolValue: rng() < 0.5, tsMs: ts }] })
    case 'state':
      return encode(kind, { seq, sentTsMs: nowMs, changes: [{ state: int(rng, 1, 7), reasonCode: 'fuzz', alarmCodes: ['A1', 'A2'], tsMs: ts }] })
    case 'production':
      return encode(kind, { seq, sentTsMs: nowMs, reports: [{ mode: 1, good: int(rng, 0, 50), reject: int(rng, 0, 3), cycleTimeS: 41.5, workOrder: 'wo-1', tsMs: ts }] })
    case 'quality':
      return encode(kind, { seq, sentTsMs: nowMs, inspections: [{ characteristic: 'bore.dia', value: 10 + rng(), lsl: 9.9, usl: 10.9, unit: 'mm', tsMs: ts }] })
    case 'connectivity':
      return encode(kind, { seq, sentTsMs: nowMs, reports: [{ access: 1, rsrpDbm: -90, rttMs: 12, cellId: 'c1', tsMs: ts }] })
    case 'material':
      return encode(kind, { seq, sentTsMs: nowMs, movements: [{ movement: 3, material: 'steel', lot: 'lot-1', quantity: rng() * 10, unit: 'kg', workOrder: 'wo-1', tsMs: ts }] })
  }
}

export interface FuzzPayload {
  readonly topic: string
  readonly payload: Buffer
  /** True when no reading of the payload can be accepted (so it must become a counted rejection). */
  readonly surelyInvalid: boolean
  readonly how: string
}

const varint = (n: number): number[] => {
  const out: number[] = []
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
    n = Math.floor(n / 128)
  } while (n > 0)
  return out
}

/** A mutated protobuf payload on a topic gw-a may publish to. */
export function fuzzPayload(rng: Rng, nowMs: number, limits: { maxPayloadBytes: number; maxBatch: number }): FuzzPayload {
  const kind = pick(rng, KINDS)
  const topic = GW_A_TOPICS[kind]
  const valid = validPayload(rng, kind, nowMs)
  const how = pick(rng, ['bitflip', 'truncate', 'wire-type-7', 'wire-type-swap', 'huge-repeated', 'deep-groups', 'deep-nesting', 'type-confusion', 'random', 'oversize', 'empty', 'non-finite', 'extreme-timestamp', 'unknown-machine', 'valid'] as const)
  const out = (payload: Buffer, surelyInvalid: boolean, t = topic): FuzzPayload => ({ topic: t, payload, surelyInvalid, how })
  switch (how) {
    case 'bitflip': {
      const p = Buffer.from(valid)
      for (let i = int(rng, 1, 8); i > 0; i--) p[int(rng, 0, p.length - 1)]! ^= 1 << int(rng, 0, 7)
      return out(p, false)
    }
    case 'truncate': {
      const n = int(rng, 0, valid.length - 1)
      return out(valid.subarray(0, n), n === 0)
    }
    case 'wire-type-7': // the first tag gets wire type 7, which does not exist: protobufjs throws
      return out(Buffer.concat([Buffer.from([(valid[0]! & ~7) | 7]), valid.subarray(1)]), true)
    case 'wire-type-swap': {
      const p = Buffer.from(valid)
      const i = int(rng, 0, p.length - 1)
      p[i] = (p[i]! & ~7) | int(rng, 0, 5)
      return out(p, false)
    }
    case 'huge-repeated': {
      // Field 3 (the batch) repeated with empty items, past INGEST_MAX_BATCH.
      const n = limits.maxBatch + int(rng, 1, 500)
      return out(Buffer.alloc(n * 2, Buffer.from([0x1a, 0x00])), true)
    }
    case 'deep-groups': // unknown field 15 opening groups inside groups: recursion in the decoder
      return out(Buffer.alloc(int(rng, 1000, Math.min(limits.maxPayloadBytes, 16_000)), 0x7b), true)
    case 'deep-nesting': {
      // A valid message with an unknown field 15 holding length-delimited fields nested 2000 deep.
      let inner: number[] = []
      for (let d = int(rng, 100, 2000); d > 0; d--) inner = [0x7a, ...varint(inner.length), ...inner]
      return out(Buffer.concat([valid, Buffer.from(inner)]).subarray(0, limits.maxPayloadBytes), false)
    }
    case 'type-confusion':
      return out(validPayload(rng, pick(rng, KINDS), nowMs), false)
    case 'random':
      return out(bytes(rng, int(rng, 1, 2000)), false)
    case 'oversize':
      return out(bytes(rng, limits.maxPayloadBytes + int(rng, 1, 4096)), true)
    case 'empty':
      return out(Buffer.alloc(0), true)
    case 'non-finite':
      return out(encode('telemetry', { seq: 1, samples: [{ signal: 'fuzz.nan', doubleValue: pick(rng, [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]), tsMs: nowMs }] }), true, GW_A_TOPICS.telemetry)
    case 'extreme-timestamp': // int64 timestamps far outside the window: future_timestamp or stale_timestamp, never accepted
      return out(validPayload(rng, kind, nowMs, pick(rng, [2 ** 53, 2 ** 60, 2 ** 63, -(2 ** 62), -1, 1])), true)
    case 'unknown-machine':
      return out(validPayload(rng, 'telemetry', nowMs), true, 'iiot/v1/za/fa/l1/m9/telemetry')
    case 'valid':
      return out(valid, false)
  }
}

const publish = (topic: string, payload: Buffer, qos: 0 | 1 | 2 = 0, messageId = 1) => generate({ cmd: 'publish', topic, payload, qos, messageId, retain: false, dup: false })

/** Rewrites a packet's Remaining Length (the body stays as it is). */
function withLength(packet: Buffer, length: number): Buffer {
  let i = 1
  while (packet[i]! & 0x80) i++
  return Buffer.concat([packet.subarray(0, 1), Buffer.from(varint(length)), packet.subarray(i + 1)])
}

export interface FuzzPacket {
  readonly bytes: Buffer
  readonly how: string
}

/** A malformed or hostile MQTT packet, meant to follow a valid CONNECT of gw-a. */
export function fuzzPacket(rng: Rng, opts: { maxPacketBytes: number }): FuzzPacket {
  const topic = pick(rng, Object.values(GW_A_TOPICS))
  const good = () => publish(topic, bytes(rng, int(rng, 0, 64)), pick(rng, [0, 1] as const), int(rng, 1, 65535))
  const how = pick(rng, ['truncated', 'length-longer', 'length-shorter', 'bad-utf8-topic', 'invalid-flags', 'oversized-length', 'malformed-length', 'wildcard-topic', 'nul-topic', 'empty-topic', 'deep-topic', 'long-topic', 'foreign-topic', 'subscribe-abuse', 'random', 'bitflip', 'unsolicited-acks', 'qos2-no-pubrel'] as const)
  const out = (b: Buffer): FuzzPacket => ({ bytes: b, how })
  switch (how) {
    case 'truncated': {
      const p = good()
      return out(p.subarray(0, int(rng, 1, p.length - 1)))
    }
    case 'length-longer': {
      const p = good()
      return out(withLength(p, p.length + int(rng, 1, 200)))
    }
    case 'length-shorter': {
      const p = good()
      return out(withLength(p, Math.max(0, p.length - 2 - int(rng, 1, 20))))
    }
    case 'bad-utf8-topic': {
      const bad = pick(rng, [[0xff, 0xfe], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])
      const placeholder = 'X'.repeat(bad.length)
      const p = publish(`iiot/v1/za/fa/l1/${placeholder}/telemetry`, bytes(rng, 8))
      const at = p.indexOf(placeholder)
      Buffer.from(bad).copy(p, at)
      return out(p)
    }
    case 'invalid-flags':
      return out(pick(rng, [
        Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x23, 0x00]), // SUBSCRIBE with flags 0000 [MQTT-3.8.1-1]
        Buffer.concat([Buffer.from([0x36]), good().subarray(1)]), // PUBLISH with QoS 3 [MQTT-3.3.1-4]
        Buffer.from([0x60, 0x02, 0x00, 0x01]), // PUBREL with flags 0000 [MQTT-3.6.1-1]
        Buffer.from([0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x23]), // UNSUBSCRIBE with flags 0000
        Buffer.from([0xc1, 0x00]), // PINGREQ with a flag set
        Buffer.from([0x00, 0x00]), // reserved type 0
        Buffer.from([0xf0, 0x00]), // reserved type 15 (AUTH is MQTT 5)
        generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'again', keepalive: 60 }), // a second CONNECT [MQTT-3.1.0-2]
      ]))
    case 'oversized-length': // declares 256 MB, then streams more than MQTT_MAX_PACKET_BYTES
      return out(Buffer.concat([Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), bytes(rng, 1024), Buffer.alloc(opts.maxPacketBytes + int(rng, 1, 65536), 0x61)]))
    case 'malformed-length': // a fifth length byte [MQTT-2.2.3]
      return out(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]))
    case 'wildcard-topic':
      return out(publish(pick(rng, ['iiot/v1/za/fa/#', 'iiot/v1/za/fa/+/m1/telemetry', '#']), bytes(rng, 4)))
    case 'nul-topic':
      return out(publish('iiot/v1/za/fa/l1/m1\u0000/telemetry', bytes(rng, 4)))
    case 'empty-topic':
      return out(publish('', bytes(rng, 4)))
    case 'deep-topic':
      return out(publish(`iiot/v1/za/fa/${'x/'.repeat(int(rng, 10, 90))}telemetry`, bytes(rng, 4)))
    case 'long-topic':
      return out(publish(`iiot/v1/za/fa/l1/${'m'.repeat(int(rng, 500, 3000))}/telemetry`, bytes(rng, 4)))
    case 'foreign-topic':
      return out(publish('iiot/v1/zb/fb/l1/m1/telemetry', bytes(rng, 8), 1, 7))
    case 'subscribe-abuse': {
      const filters = Array.from({ length: int(rng, 1, 200) }, () => ({ topic: pick(rng, ['#', 'iiot/v1/zb/#', 'iiot/v1/za/fa/#', '$SYS/#', `iiot/v1/za/fa/${'+/'.repeat(int(rng, 1, 5))}#`]), qos: pick(rng, [0, 1, 2] as const) }))
      return out(generate({ cmd: 'subscribe', messageId: int(rng, 1, 65535), subscriptions: filters }))
    }
    case 'random':
      return out(bytes(rng, int(rng, 1, 4096)))
    case 'bitflip': {
      const p = Buffer.from(good())
      for (let i = int(rng, 1, 3); i > 0; i--) p[int(rng, 0, p.length - 1)]! ^= 1 << int(rng, 0, 7)
      return out(p)
    }
    case 'unsolicited-acks':
      return out(Buffer.concat(Array.from({ length: int(rng, 1, 20) }, () => generate({ cmd: pick(rng, ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const), messageId: int(rng, 1, 65535) }))))
    case 'qos2-no-pubrel':
      return out(Buffer.concat(Array.from({ length: int(rng, 1, 50) }, (_, i) => publish(topic, bytes(rng, 16), 2, i + 1))))
  }
}
