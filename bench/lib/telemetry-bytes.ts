import { signal } from './payloads.js'

/**
 * The generator's telemetry messages written straight as protobuf bytes: the bytes protobufjs'
 * `Telemetry.encode(protoBody('telemetry', …))` writes (fields in number order; seq, sent_ts_ms
 * and ts_ms left out when 0, as proto3 has them; each sample's signal, double_value (a oneof
 * member: written even when 0) and ts_ms), without the sample objects and the writer's operation
 * per field that make them. At 2,500 msg/s of 50 samples that garbage gave the generator's process
 * 26 full collections and scavenges of 4-24 ms in a run: CPU taken from the cores the service and
 * InfluxDB share with it, and pauses counted in the acknowledgement latency it measures
 * (docs/decisions.md). A test checks the bytes against protobufjs'.
 */
const signalBytes: Buffer[] = []

/** The UTF-8 bytes of sample `k`'s signal name (payloads.ts names them). */
function signalOf(k: number): Buffer {
  return (signalBytes[k] ??= Buffer.from(signal(k)))
}

function varintLength(v: number): number {
  let n = 1
  while (v >= 128) {
    v = Math.floor(v / 128)
    n++
  }
  return n
}

/** A non-negative integer below 2^53 as a varint at `pos`; returns the position after it. */
function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  buf[pos++] = v
  return pos
}

/**
 * A Telemetry message of `values.length` samples named as payloads.ts' `signal(k)`, each with its value
 * and the timestamp `tsMs`. `values` is reused by the caller: it is read, not kept.
 */
export function telemetryBytes(seq: number, sentTsMs: number, tsMs: number, values: ArrayLike<number>): Buffer {
  const n = values.length
  const tsBytes = tsMs === 0 ? 0 : 1 + varintLength(tsMs)
  // A sample: its signal (tag, length, name), its double (tag, 8 bytes), its timestamp.
  const sampleLength = (k: number) => 2 + signalOf(k).length + 9 + tsBytes
  let size = (seq === 0 ? 0 : 1 + varintLength(seq)) + (sentTsMs === 0 ? 0 : 1 + varintLength(sentTsMs))
  for (let k = 0; k < n; k++) size += 1 + varintLength(sampleLength(k)) + sampleLength(k)
  const buf = Buffer.allocUnsafe(size)
  let pos = 0
  if (seq !== 0) {
    buf[pos++] = 0x08 // 1: seq, varint
    pos = writeVarint(buf, pos, seq)
  }
  if (sentTsMs !== 0) {
    buf[pos++] = 0x10 // 2: sent_ts_ms, varint
    pos = writeVarint(buf, pos, sentTsMs)
  }
  for (let k = 0; k < n; k++) {
    const name = signalOf(k)
    buf[pos++] = 0x1a // 3: samples, length-delimited
    pos = writeVarint(buf, pos, sampleLength(k))
    buf[pos++] = 0x0a // 1: signal
    buf[pos++] = name.length
    name.copy(buf, pos)
    pos += name.length
    buf[pos++] = 0x11 // 2: double_value, 64-bit
    buf.writeDoubleLE(values[k]!, pos)
    pos += 8
    if (tsMs !== 0) {
      buf[pos++] = 0x38 // 7: ts_ms, varint
      pos = writeVarint(buf, pos, tsMs)
    }
  }
  return buf
}
