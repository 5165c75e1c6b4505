import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import { loadProtoRoot, protoDir } from '../../src/pipeline/proto-schema.js'
import { createTelemetryFastPath } from '../../src/pipeline/telemetry-fast-path.js'
import { limits } from '../helpers/telemetry-reference.js'

/**
 * The start-up check: the fast path reads the wire format as the shipped
 * proto/iiot/v1/telemetry.proto lays it out, so it steps aside (returns
 * undefined; the pipeline warns and takes the reference path for every
 * message) when the loaded schema differs in anything protobufjs' decoder
 * acts on: numbers, types, labels, oneof membership, encoding.
 */
const COMMON = readFileSync(join(protoDir(), 'iiot/v1/common.proto'), 'utf8')
const TELEMETRY = readFileSync(join(protoDir(), 'iiot/v1/telemetry.proto'), 'utf8')

/** Replaces text that must be there, so an edit that no longer applies fails instead of testing nothing. */
function edit(source: string, ...pairs: [from: string, to: string][]): string {
  for (const [from, to] of pairs) {
    expect(source, `the .proto text has no "${from}"`).toContain(from)
    source = source.replace(from, to)
  }
  return source
}

/** The Telemetry type of a .proto text, parsed by protobufjs as loadProtoRoot() would load it. */
function parsed(telemetry: string, common = COMMON): protobuf.Type {
  const root = new protobuf.Root()
  protobuf.parse(common, root, { keepCase: false })
  protobuf.parse(telemetry, root, { keepCase: false })
  root.resolveAll()
  return root.lookupType('iiot.v1.Telemetry')
}

const fastPathFor = (telemetry: protobuf.Type) => createTelemetryFastPath(limits, telemetry)

describe('telemetry fast path: the start-up schema check', () => {
  it('recognises the shipped schema, loaded from files or parsed from its text', () => {
    expect(fastPathFor(loadProtoRoot().lookupType('iiot.v1.Telemetry'))).toBeTypeOf('function')
    expect(fastPathFor(parsed(TELEMETRY))).toBeTypeOf('function')
  })

  it('recognises the schema with its fields declared in another order: the wire knows numbers, not declarations', () => {
    expect(fastPathFor(parsed(edit(TELEMETRY, ['  string signal = 1;', '  '], ['Quality quality = 8;', 'Quality quality = 8;\n  string signal = 1;'])))).toBeTypeOf('function')
  })

  it.each([
    ['a field renumbered', edit(TELEMETRY, ['string unit = 6;', 'string unit = 9;'])],
    ['a field retyped', edit(TELEMETRY, ['int64 ts_ms = 7;', 'uint64 ts_ms = 7;'])],
    ['a field moved into the value oneof', edit(TELEMETRY, ['  string unit = 6;', '  '], ['string string_value = 5;', 'string string_value = 5;\n    string unit = 6;'])],
    ['a field moved out of the value oneof', edit(TELEMETRY, ['bool bool_value = 4;', ''], ['string unit = 6;', 'string unit = 6;\n  bool bool_value = 4;'])],
    ['the value oneof renamed', edit(TELEMETRY, ['oneof value {', 'oneof reading {'])],
    ['a field made optional (explicit presence)', edit(TELEMETRY, ['int64 ts_ms = 7;', 'optional int64 ts_ms = 7;'])],
    ['a header field made optional', edit(TELEMETRY, ['uint32 seq = 1;', 'optional uint32 seq = 1;'])],
    ['a field made repeated', edit(TELEMETRY, ['string unit = 6;', 'repeated string unit = 6;'])],
    ['samples no longer repeated', edit(TELEMETRY, ['repeated Sample samples = 3;', 'Sample samples = 3;'])],
    ['samples made a map', edit(TELEMETRY, ['repeated Sample samples = 3;', 'map<string, Sample> samples = 3;'])],
  ])('steps aside for %s (parsed from an edited .proto text)', (_what, text) => {
    expect(fastPathFor(parsed(text))).toBeUndefined()
  })

  it('steps aside for samples sent as groups (edition 2023, delimited encoding)', () => {
    const implicit = (source: string) => edit(source, ['syntax = "proto3";', 'edition = "2023";\noption features.field_presence = IMPLICIT;'])
    // The same schema in edition 2023 with proto3's presence is still recognised; only the encoding differs.
    expect(fastPathFor(parsed(implicit(TELEMETRY), implicit(COMMON)))).toBeTypeOf('function')
    const delimited = edit(implicit(TELEMETRY), ['repeated Sample samples = 3;', 'repeated Sample samples = 3 [features.message_encoding = DELIMITED];'])
    expect(fastPathFor(parsed(delimited, implicit(COMMON)))).toBeUndefined()
  })

  /** Mutates a freshly loaded schema, as a future loader or a hand-edited root might. */
  function mutated(change: (root: protobuf.Root) => void): protobuf.Type {
    const root = loadProtoRoot()
    change(root)
    root.resolveAll()
    return root.lookupType('iiot.v1.Telemetry')
  }
  const replaceField = (type: protobuf.Type, name: string, rule: string) => {
    const old = type.fields[name]!
    type.remove(old)
    type.add(new protobuf.Field(old.name, old.id, old.type, rule))
  }


  it.each<[string, (root: protobuf.Root) => void]>([
    ['a field renumbered', (root) => {
      const sample = root.lookupType('iiot.v1.Sample')
      sample.remove(sample.fields.unit!)
      sample.add(new protobuf.Field('unit', 9, 'string'))
    }],
    ['a header field made required', (root) => replaceField(root.lookupType('iiot.v1.Telemetry'), 'seq', 'required')],
    ['a sample field made required', (root) => replaceField(root.lookupType('iiot.v1.Sample'), 'signal', 'required')],
    ['a field made repeated', (root) => replaceField(root.lookupType('iiot.v1.Sample'), 'quality', 'repeated')],
    ['samples no longer repeated', (root) => replaceField(root.lookupType('iiot.v1.Telemetry'), 'samples', 'optional')],
    ['a field taken out of the value oneof', (root) => {
      const sample = root.lookupType('iiot.v1.Sample')
      sample.oneofs.value!.remove(sample.fields.boolValue!)
    }],
    ['a field put into the value oneof', (root) => {
      const sample = root.lookupType('iiot.v1.Sample')
      sample.oneofs.value!.add(sample.fields.unit!)
    }],
    ['a quality value removed', (root) => root.lookupEnum('iiot.v1.Quality').remove('QUALITY_BAD')],
  ])('steps aside for %s (a mutated loaded schema)', (_what, change) => {
    expect(fastPathFor(mutated(change))).toBeUndefined()
  })
})
