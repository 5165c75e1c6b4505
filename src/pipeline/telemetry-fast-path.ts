import type { Type } from 'protobufjs'
import type { IngestLimits } from '../config/config.js'
import { NAME_PATTERN } from '../domain/ids.js'
import { escapeTag, floatField, stringField } from '../domain/line-protocol.js'
import { MEASUREMENTS } from '../domain/measurements.js'
import type { MachineTopic } from '../domain/topic.js'

/**
 * Telemetry, the hot kind, in one pass: reads the protobuf wire format and
 * writes line protocol directly, without building the decoded message,
 * running zod or mapping objects to lines. That reference path (decode →
 * validate → toLines) allocated about 2.4 KB per sample, most of it zod's,
 * and its garbage collection was the ingest path's largest cost (see
 * bench/README).
 *
 * The fast path only ever accepts. At anything the reference path would
 * reject, or that it is not sure about (an unknown field, fields out of the
 * canonical order, two members of the value oneof, a number beyond 2^48, a
 * U+FFFD in a string), it returns undefined and the message takes the
 * reference path, which gives the rejection its reason. So zod stays the
 * specification; `test/unit/telemetry-fast-path.test.ts` holds the two paths
 * to the same lines on valid messages and checks on mutated ones that the
 * fast path never accepts what the reference rejects.
 */
export type TelemetryFastPath = (topic: MachineTopic, topicKey: string, payload: Buffer, nowMs: number) => string[] | undefined

/** The fields the reader below assumes, checked against the loaded schema at start-up. */
const TELEMETRY_FIELDS = 'seq:1:uint32,sentTsMs:2:int64,samples:3:Sample'
const SAMPLE_FIELDS = 'signal:1:string,doubleValue:2:double,intValue:3:sint64,boolValue:4:bool,stringValue:5:string,unit:6:string,tsMs:7:int64,quality:8:Quality'

/** Wire tags (field << 3 | wire type). */
const T_SEQ = (1 << 3) | 0
const T_SENT = (2 << 3) | 0
const T_SAMPLE = (3 << 3) | 2
const S_SIGNAL = (1 << 3) | 2
const S_DOUBLE = (2 << 3) | 1
const S_INT = (3 << 3) | 0
const S_BOOL = (4 << 3) | 0
const S_STRING = (5 << 3) | 2
const S_UNIT = (6 << 3) | 2
const S_TS = (7 << 3) | 0
const S_QUALITY = (8 << 3) | 0

/** Quality enum value → its field, as toLines writes it (0, unspecified, reads as good). */
const QUALITY = [',quality="good"', ',quality="good"', ',quality="uncertain"', ',quality="bad"'] as const

/** Caches are cleared past these sizes: a gateway inventing signal names cannot grow memory. */
const MAX_MACHINES = 100_000
const MAX_SIGNALS_PER_MACHINE = 10_000
const MAX_UNITS = 1_000

/** Returns undefined (the reference path for every message) when the schema is not the one this reader knows. */
export function createTelemetryFastPath(limits: IngestLimits, telemetry: Type): TelemetryFastPath | undefined {
  const sample = telemetry.fields.samples?.resolvedType
  if (describe(telemetry) !== TELEMETRY_FIELDS || !sample || !('fields' in sample) || describe(sample as Type) !== SAMPLE_FIELDS) return undefined
  if (!telemetry.fields.samples!.repeated) return undefined

  /** topic → signal → the line's head, from the measurement to the space before the fields. */
  const heads = new Map<string, Map<string, string>>()
  const units = new Map<string, string>()
  let buf: Buffer = Buffer.alloc(0)
  let pos = 0

  /** A varint of at most 7 bytes (< 2^49), or -1: longer ones (negative int64s among them) go the reference way. */
  function varint(end: number): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 7 && pos < end; i++) {
      const b = buf[pos++]!
      result += (b & 0x7f) * mul
      if (b < 0x80) return result
      mul *= 128
    }
    return -1
  }

  function string(end: number): string | undefined {
    const len = varint(end)
    if (len < 0 || pos + len > end) return undefined
    const s = buf.toString('utf8', pos, pos + len)
    pos += len
    // Ill-formed UTF-8 decodes to U+FFFD here but is a decode error for protobufjs: let it decide.
    return s.includes('\uFFFD') ? undefined : s
  }

  function headOf(topic: MachineTopic, topicKey: string, signal: string): string | undefined {
    let signals = heads.get(topicKey)
    if (!signals) {
      if (heads.size >= MAX_MACHINES) heads.clear()
      heads.set(topicKey, (signals = new Map()))
    }
    let head = signals.get(signal)
    if (head === undefined) {
      if (!NAME_PATTERN.test(signal)) return undefined
      if (signals.size >= MAX_SIGNALS_PER_MACHINE) signals.clear()
      head = `${MEASUREMENTS.telemetry},factory=${topic.factory},line=${topic.line},machine=${topic.machine},signal=${escapeTag(signal)},zone=${topic.zone} `
      signals.set(signal, head)
    }
    return head
  }

  function unitField(unit: string): string {
    if (unit === '') return ''
    let f = units.get(unit)
    if (f === undefined) {
      if (units.size >= MAX_UNITS) units.clear()
      units.set(unit, (f = ',unit=' + stringField(unit)))
    }
    return f
  }

  /** One sample ending at `end`, as its line; undefined to fall back. */
  function sampleLine(topic: MachineTopic, topicKey: string, end: number, sentTsMs: number, seqField: string, nowMs: number): string | undefined {
    let signal: string | undefined
    let unit = ''
    let ts = 0
    let quality = 0
    let member = 0
    let value = ''
    while (pos < end) {
      const tag = varint(end)
      let field: number
      switch (tag) {
        case S_SIGNAL: {
          const s = string(end)
          if (s === undefined) return undefined
          signal = s
          continue
        }
        case S_UNIT: {
          const s = string(end)
          if (s === undefined || s.length > limits.maxStringLength) return undefined
          unit = s
          continue
        }
        case S_TS:
          ts = varint(end)
          if (ts < 0) return undefined
          continue
        case S_QUALITY:
          quality = varint(end)
          if (quality < 0 || quality > 3) return undefined
          continue
        case S_DOUBLE: {
          field = 2
          if (pos + 8 > end) return undefined
          const v = buf.readDoubleLE(pos)
          pos += 8
          if (!Number.isFinite(v)) return undefined
          value = 'value=' + floatField(v)
          break
        }
        case S_INT: {
          field = 3
          const z = varint(end)
          if (z < 0) return undefined
          // zigzag: even → z/2, odd → -(z+1)/2 (arithmetic, not bitwise: z may exceed 32 bits)
          value = 'value=' + floatField(z % 2 === 0 ? z / 2 : -(z + 1) / 2)
          break
        }
        case S_BOOL: {
          field = 4
          const b = varint(end)
          if (b < 0) return undefined
          value = b !== 0 ? 'value_bool=true' : 'value_bool=false'
          break
        }
        case S_STRING: {
          field = 5
          const s = string(end)
          if (s === undefined || s.length > limits.maxStringLength) return undefined
          value = 'value_str=' + stringField(s)
          break
        }
        default:
          return undefined
      }
      // Two different members of the value oneof: protobufjs keeps both; leave that to the reference path.
      if (member !== 0 && member !== field) return undefined
      member = field
    }
    if (member === 0 || signal === undefined) return undefined
    if (ts === 0) ts = sentTsMs
    if (ts > nowMs + limits.maxFutureSkewMs || ts < nowMs - limits.maxAgeMs) return undefined
    const head = headOf(topic, topicKey, signal)
    if (head === undefined) return undefined
    return head + value + unitField(unit) + QUALITY[quality] + seqField + ' ' + ts
  }

  return (topic, topicKey, payload, nowMs) => {
    buf = payload
    pos = 0
    const end = payload.length
    let seq = 0
    let sentTsMs = 0
    let seqField = ''
    const lines: string[] = []
    while (pos < end) {
      const tag = varint(end)
      if (tag === T_SAMPLE) {
        if (lines.length === 0) {
          // The header comes first in the canonical order; a header field after a sample falls back.
          if (sentTsMs === 0) sentTsMs = nowMs
          seqField = ',seq=' + seq + 'i'
        }
        const len = varint(end)
        if (len < 0 || pos + len > end || lines.length >= limits.maxBatch) return undefined
        const line = sampleLine(topic, topicKey, pos + len, sentTsMs, seqField, nowMs)
        if (line === undefined) return undefined
        lines.push(line)
      } else if ((tag === T_SEQ || tag === T_SENT) && lines.length === 0) {
        const v = varint(end)
        if (v < 0) return undefined
        if (tag === T_SEQ) {
          if (v > 0xffffffff) return undefined
          seq = v
        } else {
          sentTsMs = v
        }
      } else {
        return undefined
      }
    }
    return lines.length > 0 ? lines : undefined
  }
}

function describe(type: Type): string {
  return type.fieldsArray.map((f) => `${f.name}:${f.id}:${f.type}`).join(',')
}
