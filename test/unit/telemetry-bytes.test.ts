import { describe, expect, it } from 'vitest'
import { protoBody, sampleValue, signal } from '../../bench/lib/payloads.js'
import { telemetryBytes } from '../../bench/lib/telemetry-bytes.js'
import { messageTypes } from '../../src/pipeline/proto-schema.js'
import { mulberry32 } from '../../src/simulator/prng.js'

describe("the load generator's telemetry bytes", () => {
  const { telemetry } = messageTypes()

  it("are protobufjs' encoding of the same message, value for value from the same random stream", () => {
    const now = 1_764_800_000_000
    // Sample counts from one to past 128 (two-byte signal indexes), sequence numbers past 2^31, timestamps of every varint length that occurs.
    for (const samples of [1, 2, 10, 50, 200]) {
      for (const [seq, tsMs] of [[0, 0], [1, 127], [300, 16_384], [2 ** 31 + 5, now - 60_000], [2 ** 32 - 1, 2 ** 52]] as const) {
        const a = mulberry32(samples * 7 + seq)
        const b = mulberry32(samples * 7 + seq)
        const expected = Buffer.from(telemetry.encode({ ...protoBody('telemetry', samples, seq, tsMs, a), sentTsMs: now }).finish())
        const values = new Float64Array(samples)
        for (let k = 0; k < samples; k++) values[k] = sampleValue(b)
        expect(telemetryBytes(seq, now, tsMs, values).equals(expected), `${samples} samples, seq ${seq}, ts ${tsMs}`).toBe(true)
      }
    }
  })

  it('write a value of 0, a member of the value oneof, as protobufjs does', () => {
    const expected = Buffer.from(telemetry.encode({ seq: 3, sentTsMs: 4, samples: [{ signal: 's0', doubleValue: 0, tsMs: 5 }] }).finish())
    expect(telemetryBytes(3, 4, 5, [0]).equals(expected)).toBe(true)
  })

  it('decode back to the values given', () => {
    const values = Float64Array.from([0, -1.5, 3.25, 1e-7, 123456.789])
    const decoded = telemetry.toObject(telemetry.decode(telemetryBytes(9, 1_000, 2_000, values)), { longs: Number }) as { seq: number; sentTsMs: number; samples: { signal: string; doubleValue: number; tsMs: number }[] }
    expect(decoded.seq).toBe(9)
    expect(decoded.sentTsMs).toBe(1_000)
    expect(decoded.samples.map((s) => [s.signal, s.doubleValue, s.tsMs])).toEqual([...values].map((v, k) => [signal(k), v, 2_000]))
  })
})
