import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync, inflateSync } from 'node:zlib'
import protobuf from 'protobufjs'

/**
 * The Sparkplug B payload (proto/sparkplug_b/sparkplug_b.proto), decoded with 64-bit integers
 * exact: the iiot/v1 schema makes protobufjs read uint64 as JS numbers (proto-schema.ts), which
 * loses precision past 2^53, so Sparkplug payloads are read with a Reader whose 64-bit reads
 * give a bigint.
 */
export interface SpScalarValues {
  readonly intValue?: number
  readonly longValue?: bigint
  readonly floatValue?: number
  readonly doubleValue?: number
  readonly booleanValue?: boolean
  readonly stringValue?: string
}

export interface SpPropertyValue extends SpScalarValues {
  readonly type?: number
  readonly isNull?: boolean
  readonly value?: string
}

export interface SpPropertySet {
  readonly keys: readonly string[]
  readonly values: readonly SpPropertyValue[]
}

/** A DataSet value (Sparkplug 3.0, 6.4.8): one of the scalar members, named in `value`; none for an empty cell. */
export interface SpDataSetValue extends SpScalarValues {
  readonly value?: keyof SpScalarValues
}

/** A DataSet (6.4.8): a table, `types[i]` the datatype of `columns[i]`, each row one value per column. */
export interface SpDataSet {
  readonly numOfColumns?: bigint
  readonly columns?: readonly string[]
  readonly types?: readonly number[]
  readonly rows?: readonly { readonly elements?: readonly SpDataSetValue[] }[]
}

export interface SpTemplate {
  readonly metrics: readonly SpMetric[]
  readonly templateRef?: string
  readonly isDefinition?: boolean
}

export interface SpMetric extends SpScalarValues {
  readonly name?: string
  readonly alias?: bigint
  readonly timestamp?: bigint
  readonly datatype?: number
  readonly isHistorical?: boolean
  readonly isTransient?: boolean
  readonly isNull?: boolean
  readonly properties?: SpPropertySet
  /** Which member of the value oneof is set. */
  readonly value?: keyof SpScalarValues | 'bytesValue' | 'datasetValue' | 'templateValue'
  readonly bytesValue?: Uint8Array
  readonly datasetValue?: SpDataSet
  readonly templateValue?: SpTemplate
}

export interface SpPayload {
  readonly timestamp?: bigint
  readonly metrics: readonly SpMetric[]
  readonly seq?: bigint
  readonly uuid?: string
  readonly body?: Uint8Array
}

const U64_MASK = (1n << 64n) - 1n

/** A protobufjs Reader whose 64-bit varints are exact bigints (uint64; int64 as two's complement). */
class ExactReader extends protobuf.Reader {
  private varint64(): bigint {
    let result = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.len) throw new RangeError(`index out of range: ${this.pos} + 1 > ${this.len}`)
      const b = this.buf[this.pos++]!
      result |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return result & U64_MASK
    }
    throw new Error('invalid varint encoding')
  }
  override uint64(): never {
    return this.varint64() as never
  }
  override int64(): never {
    return BigInt.asIntN(64, this.varint64()) as never
  }
}

/** Finds proto/sparkplug_b by walking up from this file, so it works from src/ (tsx) and dist/src/. */
function protoFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto', 'sparkplug_b', 'sparkplug_b.proto')
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  throw new Error('cannot find proto/sparkplug_b/sparkplug_b.proto')
}

let payloadType: protobuf.Type | undefined
function type(): protobuf.Type {
  if (!payloadType) {
    const root = new protobuf.Root()
    root.loadSync(protoFile(), { keepCase: false })
    root.resolveAll()
    payloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload')
  }
  return payloadType
}

/** A payload with more top-level metrics than its reader allows: refused before it is decoded. */
export class TooManyMetrics extends Error {
  constructor(
    readonly count: number,
    readonly max: number,
  ) {
    super(`${count} metrics in one payload exceed INGEST_MAX_BATCH (${max})`)
  }
}

/**
 * Decodes a Sparkplug B payload; throws on bytes that are not one, and (TooManyMetrics) on one
 * with more than `maxMetrics` metrics, counted from the bytes before anything is decoded.
 */
export function decodeSparkplugPayload(buf: Uint8Array, maxMetrics = Infinity): SpPayload {
  if (maxMetrics !== Infinity) {
    const n = metricCount(buf)
    if (n > maxMetrics) throw new TooManyMetrics(n, maxMetrics)
  }
  return plain(type().decode(new ExactReader(buf))) as unknown as SpPayload
}

/** Payload.metrics is field 2, length-delimited (proto/sparkplug_b/sparkplug_b.proto). */
const METRICS_KEY = (2 << 3) | 2

/**
 * How many top-level metrics the payload's bytes hold, read from the field keys alone (each
 * metric's bytes are skipped, not decoded); -1 for bytes that are not a well-formed message,
 * which the decoder then refuses with its own message.
 */
export function metricCount(buf: Uint8Array): number {
  let pos = 0
  let n = 0
  const varint = (): number => {
    let v = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= buf.length) return -1
      const b = buf[pos++]!
      v += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return v
    }
    // Longer varints (64-bit values) are skipped byte by byte.
    for (;;) {
      if (pos >= buf.length) return -1
      if (buf[pos++]! < 0x80) return 0
    }
  }
  while (pos < buf.length) {
    const key = varint()
    if (key < 0) return -1
    switch (key & 7) {
      case 0:
        if (varint() < 0) return -1
        break
      case 1:
        pos += 8
        break
      case 2: {
        const len = varint()
        if (len < 0) return -1
        pos += len
        if (key === METRICS_KEY) n++
        break
      }
      case 5:
        pos += 4
        break
      default:
        return -1
    }
  }
  return pos === buf.length ? n : -1
}

/** The `uuid` of a compressed payload: the real one is in `body` (Tahu's and Ignition's compression option). */
export const COMPRESSED_UUID = 'SPBV1.0_COMPRESSED'

/**
 * The payload a compressed one wraps (its `algorithm` metric: GZIP, or DEFLATE by default),
 * decompressed to at most `maxBytes` and holding at most `maxMetrics` metrics; the payload itself
 * when it is not compressed. Throws on a body that does not decompress or decode, or is larger.
 */
export function uncompressed(p: SpPayload, maxBytes: number, maxMetrics = Infinity): SpPayload {
  if (p.uuid !== COMPRESSED_UUID) return p
  if (!p.body) throw new Error('a compressed payload without a body')
  const algorithm = p.metrics.find((m) => m.name === 'algorithm')?.stringValue?.toUpperCase() ?? 'DEFLATE'
  if (algorithm !== 'GZIP' && algorithm !== 'DEFLATE') throw new Error(`unknown compression algorithm "${algorithm}"`)
  const inner = (algorithm === 'GZIP' ? gunzipSync : inflateSync)(p.body, { maxOutputLength: maxBytes })
  return decodeSparkplugPayload(inner, maxMetrics)
}

/**
 * The fields the bytes carried, as a plain object: protobufjs puts the defaults of absent fields
 * on the prototype (a Long 0 for a 64-bit one), which must never read as a value here. The
 * name of the value member present is kept as `value`.
 */
function plain(m: protobuf.Message): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(m)) {
    const v = (m as unknown as Record<string, unknown>)[key]
    out[key] = Array.isArray(v) ? v.map((x: unknown) => (x instanceof protobuf.Message ? plain(x) : x)) : v instanceof protobuf.Message ? plain(v) : v
  }
  for (const member of VALUE_MEMBERS) {
    if (Object.hasOwn(m, member)) {
      out['value'] = member
      break
    }
  }
  return out
}

/** The members of the specification's `value` oneofs (written as plain fields in the .proto: see there). */
const VALUE_MEMBERS = ['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue', 'bytesValue', 'datasetValue', 'templateValue', 'propertysetValue', 'propertysetsValue'] as const

/** A metric to encode: numbers or bigints for 64-bit fields. */
export interface SpMetricInput {
  name?: string
  alias?: number | bigint
  timestamp?: number | bigint
  datatype?: number
  isHistorical?: boolean
  isTransient?: boolean
  isNull?: boolean
  properties?: { keys: string[]; values: Array<Record<string, unknown>> }
  intValue?: number
  longValue?: number | bigint
  floatValue?: number
  doubleValue?: number
  booleanValue?: boolean
  stringValue?: string
  bytesValue?: Uint8Array
  templateValue?: { metrics: SpMetricInput[]; templateRef?: string; isDefinition?: boolean }
  datasetValue?: Record<string, unknown>
}

/**
 * Encodes a payload (NCMD rebirth requests, the simulator, the bench, tests). A bigint is written
 * exactly: it is handed to protobufjs' writer as its low and high 32 bits, never through
 * `fromObject`, which turns 64-bit values into JS numbers when the iiot/v1 schema has switched
 * protobufjs' Long support off (proto-schema.ts).
 */
export function encodeSparkplugPayload(p: { timestamp?: number | bigint; seq?: number | bigint; metrics: SpMetricInput[]; uuid?: string; body?: Uint8Array }): Buffer {
  return Buffer.from(type().encode(longsAsBits(p) as Record<string, unknown>).finish())
}

function longsAsBits(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const u = BigInt.asUintN(64, v)
    return { low: Number(u & 0xffffffffn), high: Number(u >> 32n), unsigned: true }
  }
  if (Array.isArray(v)) return v.map(longsAsBits)
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, longsAsBits(x)]))
  return v
}
