import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import { int, mulberry32, pick, type Rng } from '../helpers/fuzz-inputs.js'
import { types } from '../helpers/gateway.js'
import { LineSink } from '../../src/pipeline/line-sink.js'
import { fast, fastPath, limits, NOW, reference, topic, TOPIC_KEY } from '../helpers/telemetry-reference.js'

/**
 * The fast path against the reference path (protobufjs decode → zod → toLines),
 * which is the specification: the same lines for valid messages, and never an
 * acceptance the reference would refuse. Non-canonical encodings are in
 * telemetry-fast-path-wire.test.ts, the start-up schema check in
 * telemetry-fast-path-schema.test.ts.
 */
const SIGNALS = ['a', 'spindle.temperature', 'x:y/z-1_2', 'S'.repeat(128), 'axis.1.load']
const STRINGS = ['', 'ok', 'say "hi"', 'back\\slash', 'two\nlines', 'ünïcödé', '🙂 emoji', 'x'.repeat(32)]
const UNITS = ['', 'degC', 'm/s', 'µm', 'a "unit"']

function randomSample(rng: Rng): Record<string, unknown> {
  const s: Record<string, unknown> = { signal: pick(rng, SIGNALS) }
  switch (int(rng, 0, 3)) {
    case 0:
      s.doubleValue = pick(rng, [0, -0, 1.5, -273.15, 1e-7, 1e21, 123456789.123, Number.MAX_VALUE, Number.MIN_VALUE, rng() * 1000 - 500])
      break
    case 1:
      s.intValue = pick(rng, [0, 1, -1, 2 ** 31, -(2 ** 31) - 7, 2 ** 47 - 1, -(2 ** 47), int(rng, -1e9, 1e9)])
      break
    case 2:
      s.boolValue = rng() < 0.5
      break
    default:
      s.stringValue = pick(rng, STRINGS)
  }
  if (rng() < 0.7) s.unit = pick(rng, UNITS)
  if (rng() < 0.8) s.tsMs = pick(rng, [NOW, NOW - 1, NOW - limits.maxAgeMs, NOW + limits.maxFutureSkewMs, NOW - int(rng, 0, 3_600_000)])
  if (rng() < 0.6) s.quality = int(rng, 0, 3)
  return s
}

function randomMessage(rng: Rng): Buffer {
  const body = {
    seq: pick(rng, [0, 1, int(rng, 0, 1e6), 0xffffffff]),
    sentTsMs: rng() < 0.2 ? 0 : NOW - int(rng, 0, 60_000),
    samples: Array.from({ length: int(rng, 1, limits.maxBatch) }, () => randomSample(rng)),
  }
  return Buffer.from(types.telemetry.encode(types.telemetry.fromObject(body)).finish())
}

/** Raw wire bytes, for messages protobufjs' encoder would not write. */
function wire(build: (w: protobuf.Writer) => void): Buffer {
  const w = protobuf.Writer.create()
  build(w)
  return Buffer.from(w.finish())
}
const sampleBytes = (build: (w: protobuf.Writer) => void) => wire(build)

describe('telemetry fast path', () => {
  it('writes exactly the reference lines for 3,000 random valid messages, falling back for none', () => {
    const rng = mulberry32(7)
    for (let i = 0; i < 3000; i++) {
      const payload = randomMessage(rng)
      const ref = reference(payload)
      const lines = fast(payload)
      expect(ref.ok, `message ${i} must be valid`).toBe(true)
      expect(lines, `message ${i}`).toEqual((ref as { lines: string[] }).lines)
    }
  })

  it('never accepts what the reference path rejects, over 20,000 mutated messages', () => {
    const rng = mulberry32(11)
    let accepted = 0
    let rejectedByReference = 0
    for (let i = 0; i < 20_000; i++) {
      const payload = Buffer.from(randomMessage(rng))
      let mutated: Buffer
      switch (int(rng, 0, 2)) {
        case 0: // overwrite a few bytes
          for (let k = int(rng, 1, 3); k > 0; k--) payload[int(rng, 0, payload.length - 1)] = int(rng, 0, 255)
          mutated = payload
          break
        case 1: // cut short
          mutated = payload.subarray(0, int(rng, 0, payload.length - 1))
          break
        default: // trailing junk
          mutated = Buffer.concat([payload, Buffer.from([int(rng, 0, 255), int(rng, 0, 255)])])
      }
      const lines = fast(mutated)
      const ref = reference(mutated)
      if (!ref.ok) rejectedByReference++
      if (lines === undefined) continue
      accepted++
      expect(ref, `mutated message ${i}: ${mutated.toString('hex')}`).toEqual({ ok: true, lines })
    }
    // The mutations must exercise both sides, or this test proves nothing.
    expect(rejectedByReference).toBeGreaterThan(2000)
    expect(accepted).toBeGreaterThan(500)
  })

  const good = (extra: (w: protobuf.Writer) => void = () => undefined) =>
    sampleBytes((w) => {
      w.uint32((1 << 3) | 2).string('a')
      w.uint32((2 << 3) | 1).double(1)
      extra(w)
    })
  const message = (...samples: Buffer[]) =>
    wire((w) => {
      w.uint32((1 << 3) | 0).uint32(5)
      w.uint32((2 << 3) | 0).int64(NOW)
      for (const s of samples) w.uint32((3 << 3) | 2).bytes(s)
    })

  it.each([
    ['a signal name outside the pattern', message(sampleBytes((w) => w.uint32((1 << 3) | 2).string('bad name').uint32((2 << 3) | 1).double(1)))],
    ['a missing value', message(sampleBytes((w) => w.uint32((1 << 3) | 2).string('a')))],
    ['a missing signal', message(sampleBytes((w) => w.uint32((2 << 3) | 1).double(1)))],
    ['NaN', message(sampleBytes((w) => w.uint32((1 << 3) | 2).string('a').uint32((2 << 3) | 1).double(Number.NaN)))],
    ['Infinity', message(sampleBytes((w) => w.uint32((1 << 3) | 2).string('a').uint32((2 << 3) | 1).double(Number.POSITIVE_INFINITY)))],
    ['a string value over the limit', message(sampleBytes((w) => w.uint32((1 << 3) | 2).string('a').uint32((5 << 3) | 2).string('x'.repeat(33))))],
    ['a unit over the limit', message(good((w) => w.uint32((6 << 3) | 2).string('u'.repeat(33))))],
    ['a timestamp too far ahead', message(good((w) => w.uint32((7 << 3) | 0).int64(NOW + limits.maxFutureSkewMs + 1)))],
    ['a stale timestamp', message(good((w) => w.uint32((7 << 3) | 0).int64(NOW - limits.maxAgeMs - 1)))],
    ['a negative timestamp', message(good((w) => w.uint32((7 << 3) | 0).int64(-5)))],
    ['an unknown quality', message(good((w) => w.uint32((8 << 3) | 0).int32(4)))],
    ['no samples', message()],
    ['more samples than the batch limit', message(...Array.from({ length: limits.maxBatch + 1 }, () => good()))],
    ['ill-formed UTF-8 in the signal', message(sampleBytes((w) => w.uint32((1 << 3) | 2).bytes(Buffer.from([0x61, 0xff])).uint32((2 << 3) | 1).double(1)))],
  ])('falls back on %s, which the reference path rejects', (_what, payload) => {
    expect(fast(payload)).toBeUndefined()
    expect(reference(payload).ok).toBe(false)
  })

  // 64-bit patterns as a gateway may write them ({low, high}: protobufjs' Long support is off, proto-schema.ts).
  const bits = (v: bigint) => ({ low: Number(BigInt.asUintN(32, v)), high: Number(BigInt.asUintN(32, v >> 32n)) })
  it.each([
    ['2^53', bits(2n ** 53n), 'future_timestamp'],
    ['2^53 + 1', bits(2n ** 53n + 1n), 'future_timestamp'],
    ['2^60', bits(2n ** 60n), 'future_timestamp'],
    ['2^63 - 1, the largest int64', bits(2n ** 63n - 1n), 'future_timestamp'],
    ['1 ms after the epoch', bits(1n), 'stale_timestamp'],
    ['-1 (2^64 - 1 on the wire)', bits(2n ** 64n - 1n), 'stale_timestamp'],
    ['-2^63, the smallest int64', bits(2n ** 63n), 'stale_timestamp'],
  ])('falls back on a timestamp of %s, which the reference path rejects as too new or too old', (_what, ts, reason) => {
    const item = message(good((w) => w.uint32((7 << 3) | 0).int64(ts as unknown as number)))
    expect(fast(item)).toBeUndefined()
    expect(reference(item)).toEqual({ ok: false, why: reason })
    // The same as the send time of a sample without its own.
    const sent = wire((w) => w.uint32((1 << 3) | 0).uint32(5).uint32((2 << 3) | 0).int64(ts as unknown as number).uint32((3 << 3) | 2).bytes(good()))
    expect(fast(sent)).toBeUndefined()
    expect(reference(sent)).toEqual({ ok: false, why: reason })
  })

  it.each([
    ['the header after the samples', wire((w) => w.uint32((3 << 3) | 2).bytes(good()).uint32((1 << 3) | 0).uint32(5))],
    ['an unknown field', message(good((w) => w.uint32((15 << 3) | 0).uint32(1)))],
    ['two members of the value oneof', message(good((w) => w.uint32((4 << 3) | 0).bool(true)))],
    ['an integer of 2^52, whose zigzag varint reaches 2^53', message(sampleBytes((w) => w.uint32((1 << 3) | 2).string('a').uint32((3 << 3) | 0).sint64(2 ** 52)))],
  ])('leaves %s to the reference path, which accepts it', (_what, payload) => {
    expect(fast(payload)).toBeUndefined()
    expect(reference(payload).ok).toBe(true)
  })

  it('writes the reference lines as a machine keeps, reorders, lengthens and shortens its signals, beside another machine', () => {
    // Each machine's heads are laid out by position after a message; these orders exercise the
    // layout's hits, a changed position, positions past it, and a message cut short midway.
    const named = (signals: readonly string[], value: number) =>
      Buffer.from(types.telemetry.encode(types.telemetry.fromObject({ seq: 9, sentTsMs: NOW, samples: signals.map((signal, k) => ({ signal, doubleValue: value + k, tsMs: NOW - k })) })).finish())
    const base = ['a', 'b.c', 'd', 'spindle.temperature', 'e']
    const orders = [base, base, [...base].reverse(), base, [...base, 'f', 'g'], [...base, 'f', 'g'], base.slice(0, 2), ['b.c', 'a'], base, ['x'], base]
    const other = createOtherMachine()
    orders.forEach((signals, i) => {
      const payload = named(signals, i)
      const ref = reference(payload)
      expect(ref.ok).toBe(true)
      expect(fast(payload), `order ${i}: ${signals.join(',')}`).toEqual((ref as { lines: string[] }).lines)
      // The same signals in another order on a second machine, between two of the first's messages.
      const mixed = named([...signals].reverse(), i)
      expect(other(mixed)).toEqual((reference(mixed) as { lines: string[] }).lines.map((l) => l.replace('machine=m.7', 'machine=m.8')))
      // A message declined after its first samples (a bad name at the end) changes nothing the next one reads.
      expect(fast(named([...signals, 'bad name'], i))).toBeUndefined()
    })
  })
})

/** A second machine's fast path lines, through the same fast path as `fast()`'s machine. */
function createOtherMachine(): (payload: Buffer) => string[] | undefined {
  const t = { ...topic, machine: 'm.8' }
  const key = TOPIC_KEY.replace('m.7', 'm.8')
  return (payload) => {
    const sink = new LineSink(16)
    return fastPath(t, key, payload, NOW, sink) < 0 ? undefined : sink.view().toString('utf8').split('\n')
  }
}
