import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { deflateSync, gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import type { IngestOutcome } from '../../src/pipeline/pipeline.js'
import type { RejectionInput } from '../../src/pipeline/rejection-store.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { Registry } from '../../src/registry/registry.js'
import { BirthStore } from '../../src/sparkplug/birth-store.js'
import { createSparkplugHost, type SparkplugHost } from '../../src/sparkplug/host.js'
import { decodeSparkplugPart } from '../../src/sparkplug/sparkplug-part.js'
import { encodeSparkplugPayload, type SpMetricInput } from '../../src/sparkplug/payload.js'
import { bytes, mulberry32 } from '../helpers/fuzz-inputs.js'
import { DT, sparkplugRegistry } from '../helpers/sparkplug.js'

const T0 = 1_760_000_000_000
const LIMITS = { maxFutureSkewMs: 60_000, maxAgeMs: 365 * 86_400_000, maxBatch: 100, maxStringLength: 256 }
const NODE = 'spBv1.0/plant-a/%/edge-1'
const DEV = 'spBv1.0/plant-a/%/edge-1/press-1'

let dir: string
let registry: Registry
let kept: RejectionInput[]
let sent: string[]
let clock: number
let live: LiveStateTable
const hosts: SparkplugHost[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sp-host-'))
  registry = Registry.fromJson(await sparkplugRegistry())
  kept = []
  sent = []
  clock = T0
  live = new LiveStateTable()
})
afterEach(async () => {
  for (const h of hosts.splice(0)) h.close()
  await rm(dir, { recursive: true, force: true })
})

function hostDeps(opts: { windowMs?: number; maxHeld?: number; births?: BirthStore } = {}): Parameters<typeof createSparkplugHost>[0] {
  return {
    registry: { current: () => registry },
    births: opts.births ?? BirthStore.open(join(dir, 'births.json')),
    live,
    keeper: { keep: async (r) => void kept.push(r) },
    validate: createValidator(LIMITS, () => clock),
    limits: { ...LIMITS, maxUncompressedBytes: 64 * 1024 },
    sendRebirth: (g, e) => sent.push(`${g}/${e}`),
    metrics: createMetrics(),
    log: pino({ level: 'silent' }),
    reorderWindowMs: opts.windowMs ?? 60_000,
    reorderMaxMessages: opts.maxHeld ?? 8,
    rebirthMinIntervalMs: 5_000,
    now: () => clock,
  }
}

function host(opts: { windowMs?: number; maxHeld?: number; births?: BirthStore } = {}): SparkplugHost {
  const h = createSparkplugHost(hostDeps(opts))
  hosts.push(h)
  return h
}

const frame = (type: string, payload: Buffer, device = false) => ({ topic: (device ? DEV : NODE).replace('%', type), gatewayId: 'gw-a', payload, receivedMs: clock })
const nbirth = (seq = 0, bdSeq = 0, metrics: SpMetricInput[] = []) =>
  frame('NBIRTH', encodeSparkplugPayload({ timestamp: T0, seq, metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: bdSeq }, { name: 'Temp', alias: 1, datatype: DT.Double, doubleValue: 20, properties: { keys: ['engUnit'], values: [{ type: DT.String, stringValue: 'degC' }] } }, ...metrics] }))
const dbirth = (seq: number, metrics: SpMetricInput[]) => frame('DBIRTH', encodeSparkplugPayload({ timestamp: clock, seq, metrics }), true)
const ndata = (seq: number, metrics: SpMetricInput[], ts = T0 + 1000) => frame('NDATA', encodeSparkplugPayload({ timestamp: ts, seq, metrics }))
const ddata = (seq: number, metrics: SpMetricInput[], ts = T0 + 1000) => frame('DDATA', encodeSparkplugPayload({ timestamp: ts, seq, metrics }), true)
const lines = (outs: IngestOutcome[]) => outs.flatMap((o) => (o.ok ? o.accepted.lines : []))
const reasons = (outs: IngestOutcome[]) => outs.flatMap((o) => (o.ok ? [] : [o.reason]))

describe('Sparkplug host: births, aliases, data', () => {
  it('resolves NDATA aliases against the NBIRTH and stores values with their units at the metric time', () => {
    const h = host()
    const born = h.handle(nbirth())
    expect(reasons(born)).toEqual([])
    expect(lines(born)).toEqual([`telemetry,factory=fa,line=l1,machine=m2,signal=Temp,zone=za value=20,unit="degC",quality="good",seq=0i ${T0}`])
    const out = h.handle(ndata(1, [{ alias: 1, doubleValue: 21.5, timestamp: T0 + 500 }]))
    expect(lines(out)).toEqual([`telemetry,factory=fa,line=l1,machine=m2,signal=Temp,zone=za value=21.5,unit="degC",quality="good",seq=1i ${T0 + 500}`])
  })

  it('keeps every integer exact: Int8 negatives, UInt64 past 2^53, Int64 negatives; arrays, null, transient, historical', () => {
    const h = host()
    h.handle(nbirth())
    const out = h.handle(dbirth(1, [
      { name: 'i8', alias: 10, datatype: DT.Int8, intValue: 0xfffffffb },
      { name: 'u64', alias: 11, datatype: DT.UInt64, longValue: 18446744073709551615n },
      { name: 'i64', alias: 12, datatype: DT.Int64, longValue: BigInt.asUintN(64, -9007199254740993n) },
      { name: 'arr', alias: 13, datatype: DT.Int16Array, bytesValue: Buffer.from([0xff, 0xff, 0x02, 0x00]) },
      { name: 'flags', alias: 14, datatype: DT.BooleanArray, bytesValue: Buffer.from([3, 0, 0, 0, 0b1010_0000]) },
      { name: 'nul', alias: 15, datatype: DT.Double, isNull: true },
      { name: 'tr', alias: 16, datatype: DT.Double, doubleValue: 1, isTransient: true },
      { name: 'when', alias: 17, datatype: DT.DateTime, longValue: T0 },
      { name: 'hist', alias: 18, datatype: DT.Float, floatValue: 0.5, isHistorical: true, timestamp: T0 - 60_000 },
      { name: 'Motor Temp,PV', alias: 19, datatype: DT.Double, doubleValue: 1 },
    ]))
    expect(reasons(out)).toEqual([])
    const text = lines(out).join('\n')
    expect(text).toContain('signal=i8,zone=za value=-5,')
    expect(text).toContain('signal=u64,zone=za value_str="18446744073709551615",')
    expect(text).toContain('signal=i64,zone=za value_str="-9007199254740993",')
    expect(text).toContain('signal=arr,zone=za value_str="[-1,2]",')
    expect(text).toContain('signal=flags,zone=za value_str="[true,false,true]",')
    expect(text).toContain('signal=nul,zone=za is_null=true,quality="bad"')
    expect(text).not.toContain('signal=tr,')
    expect(text).toContain(`signal=when,zone=za value=${T0},`)
    expect(text).toContain('signal=Motor_Temp_PV,zone=za value=1,')
    expect(text).toMatch(new RegExp(`signal=hist,zone=za value=0.5,quality="good",seq=1i ${T0 - 60_000}$`, 'm'))
  })

  it('rejects bad input with a reason and goes on: undecodable, NBIRTH without bdSeq, duplicate aliases, value not fitting its datatype', () => {
    const h = host()
    expect(reasons(h.handle(frame('NBIRTH', Buffer.from([0xff, 0xff, 0xff]))))).toEqual(['decode_error'])
    expect(reasons(h.handle(frame('NBIRTH', encodeSparkplugPayload({ seq: 0, metrics: [{ name: 'x', datatype: DT.Double, doubleValue: 1 }] }))))).toEqual(['missing_bdseq'])
    expect(reasons(h.handle(nbirth(0, 0, [{ name: 'dup', alias: 1, datatype: DT.Int32, intValue: 1 }])))).toEqual(['duplicate_alias'])
    h.handle(nbirth())
    const out = h.handle(dbirth(1, [{ name: 'small', alias: 20, datatype: DT.Int8, intValue: 300 }, { name: 'b', alias: 21, datatype: DT.Boolean, stringValue: 'yes' }, { name: 'ok', alias: 22, datatype: DT.Int32, intValue: 7 }]))
    expect(reasons(out).sort()).toEqual(['datatype_mismatch', 'value_out_of_range'])
    expect(lines(out).join('\n')).toContain('signal=ok,zone=za value=7,')
    expect(reasons(h.handle(ddata(2, [{ alias: 22, datatype: DT.Bytes, bytesValue: Buffer.from([1]) }])))).toEqual(['datatype_mismatch'])
  })
})

describe('Sparkplug host: seq, reorder window, rebirth', () => {
  it('holds a message after a gap and handles both in order once the gap is filled', () => {
    const h = host()
    h.handle(nbirth(0))
    const held = h.handle(ndata(2, [{ alias: 1, doubleValue: 2 }], T0 + 2000))
    expect(held).toEqual([])
    const out = h.handle(ndata(1, [{ alias: 1, doubleValue: 1 }], T0 + 1000))
    expect(lines(out).map((l) => l.split(' ')[1]!.split(',')[0])).toEqual(['value=1', 'value=2'])
    expect(sent).toEqual([])
  })

  it('wraps seq from 255 to 0', () => {
    const h = host()
    h.handle(nbirth(254))
    expect(lines(h.handle(ndata(255, [{ alias: 1, doubleValue: 1 }])))).toHaveLength(1)
    expect(lines(h.handle(ndata(0, [{ alias: 1, doubleValue: 2 }])))).toHaveLength(1)
  })

  it('when the window ends, keeps what waited as rejections and requests one rebirth', async () => {
    const h = host({ windowMs: 30 })
    h.handle(nbirth(0))
    h.handle(ndata(3, [{ alias: 1, doubleValue: 3 }]))
    await new Promise((r) => setTimeout(r, 80))
    expect(kept.map((k) => k.reason)).toEqual(['sequence_gap'])
    expect(kept[0]).toMatchObject({ zone: 'za', factory: 'fa', gateway: 'gw-a' })
    expect(sent).toEqual(['plant-a/edge-1'])
    // The next message starts the count afresh.
    expect(lines(h.handle(ndata(9, [{ alias: 1, doubleValue: 9 }])))).toHaveLength(1)
  })

  it('a message still waiting when the service stops is kept as a rejection, not dropped', () => {
    const h = host()
    h.handle(nbirth(0))
    expect(h.handle(ndata(2, [{ alias: 1, doubleValue: 2 }]))).toEqual([])
    h.close()
    expect(kept.map((k) => [k.reason, k.gateway])).toEqual([['sequence_gap', 'gw-a']])
    expect(kept[0]!.message).toMatch(/stopped/)
  })

  it('a full window ends at once; a late duplicate is a rejection', () => {
    const h = host({ maxHeld: 2 })
    h.handle(nbirth(0))
    h.handle(ndata(1, [{ alias: 1, doubleValue: 1 }]))
    expect(reasons(h.handle(ndata(1, [{ alias: 1, doubleValue: 1 }])))).toEqual(['sequence_late'])
    h.handle(ndata(3, [{ alias: 1, doubleValue: 3 }]))
    h.handle(ndata(4, [{ alias: 1, doubleValue: 4 }]))
    expect(reasons(h.handle(ndata(5, [{ alias: 1, doubleValue: 5 }])))).toEqual(['sequence_gap', 'sequence_gap', 'sequence_gap'])
    expect(sent).toEqual(['plant-a/edge-1'])
  })

  it('an unknown alias and data before a birth are rejected and ask for a rebirth, at most once per interval', () => {
    const h = host()
    expect(reasons(h.handle(ndata(0, [{ alias: 1, doubleValue: 1 }])))).toEqual(['no_birth'])
    expect(sent).toEqual(['plant-a/edge-1'])
    h.handle(nbirth(0))
    expect(reasons(h.handle(ndata(1, [{ alias: 99, doubleValue: 1 }, { alias: 1, doubleValue: 5 }])))).toEqual(['unknown_alias'])
    expect(sent).toHaveLength(1)
    clock += 5_000
    h.handle(ndata(2, [{ alias: 99, doubleValue: 1 }]))
    expect(sent).toEqual(['plant-a/edge-1', 'plant-a/edge-1'])
    expect(reasons(h.handle(ddata(3, [{ alias: 1, doubleValue: 1 }])))).toEqual(['no_birth'])
    // An operator's request obeys the same interval.
    expect(h.requestRebirth('plant-a', 'edge-1')).toBe(false)
    clock += 5_000
    expect(h.requestRebirth('plant-a', 'edge-1')).toBe(true)
    expect(sent).toHaveLength(3)
  })

  it('births survive a restart of the service: data after it resolves against the persisted birth', () => {
    const first = host()
    first.handle(nbirth(0, 7))
    expect(first.flush()).toBe(true)
    const again = host({ births: BirthStore.open(join(dir, 'births.json')) })
    const out = again.handle(ndata(1, [{ alias: 1, doubleValue: 42 }]))
    expect(reasons(out)).toEqual([])
    expect(lines(out)[0]).toContain('signal=Temp,zone=za value=42,unit="degC"')
  })
})

describe('Sparkplug host: deaths', () => {
  it('NDEATH of the current session makes the machines offline from its time; a stale one changes nothing; the next birth brings them back', () => {
    const h = host()
    h.handle(nbirth(0, 1, [{ name: 'Status/Mode', alias: 2, datatype: DT.Int32, intValue: 1 }]))
    h.handle(dbirth(1, [{ name: 'Status/Mode', alias: 30, datatype: DT.Int32, intValue: 1 }]))
    expect(live.get('za/fa/l1/m1')?.state).toBe('running')
    clock = T0 + 10_000
    const stale = h.handle(frame('NDEATH', encodeSparkplugPayload({ metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 0 }] })))
    expect(reasons(stale)).toEqual(['stale_ndeath'])
    expect(live.get('za/fa/l1/m1')?.state).toBe('running')
    const death = h.handle(frame('NDEATH', encodeSparkplugPayload({ timestamp: T0, metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 1 }] })))
    expect(lines(death).sort()).toEqual([
      `state,factory=fa,line=l1,machine=m1,zone=za state="offline",reason="sparkplug_ndeath",since_ms=${T0 + 10_000}i,seq=0i ${T0 + 10_000}`,
      `state,factory=fa,line=l1,machine=m2,zone=za state="offline",reason="sparkplug_ndeath",since_ms=${T0 + 10_000}i,seq=0i ${T0 + 10_000}`,
    ])
    expect(live.get('za/fa/l1/m1')?.state).toBe('offline')
    expect(reasons(h.handle(ndata(2, [{ alias: 1, doubleValue: 1 }])))).toEqual(['no_birth'])
    clock = T0 + 20_000
    h.handle(frame('NBIRTH', encodeSparkplugPayload({ timestamp: T0 + 20_000, seq: 0, metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 2 }] })))
    expect(live.get('za/fa/l1/m2')?.state).toBe('running')
    h.handle(dbirth(1, [{ name: 'Status/Mode', alias: 30, datatype: DT.Int32, intValue: 3 }]))
    expect(live.get('za/fa/l1/m1')).toMatchObject({ state: 'fault', reason: 'E-STOP' })
  })

  it('a birth whose state metric last changed before the death ends the offline interval at the birth, and the live table holds what is stored', () => {
    const h = host()
    h.handle(nbirth(0, 1))
    h.handle(dbirth(1, [{ name: 'Status/Mode', alias: 30, datatype: DT.Int32, intValue: 1, timestamp: T0 }]))
    clock = T0 + 10_000
    h.handle(frame('NDEATH', encodeSparkplugPayload({ metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 1 }] })))
    expect(live.get('za/fa/l1/m1')?.state).toBe('offline')
    clock = T0 + 20_000
    h.handle(frame('NBIRTH', encodeSparkplugPayload({ timestamp: clock, seq: 0, metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 2 }] })))
    // Still running since T0, as the edge node sees it: stored from the birth, not from T0.
    const out = h.handle(dbirth(1, [{ name: 'Status/Mode', alias: 30, datatype: DT.Int32, intValue: 1, timestamp: T0 }]))
    const states = lines(out).filter((l) => l.startsWith('state,') && l.includes('machine=m1,'))
    expect(states).toEqual([expect.stringMatching(new RegExp(`state="running",.* ${T0 + 20_000}$`))])
    expect(live.get('za/fa/l1/m1')).toMatchObject({ state: 'running', stateTsMs: T0 + 20_000 })
  })

  it('DDEATH makes the device machine offline; its data before the next DBIRTH is rejected', () => {
    const h = host()
    h.handle(nbirth(0))
    h.handle(dbirth(1, [{ name: 'x', alias: 40, datatype: DT.Double, doubleValue: 1 }]))
    const d = h.handle(frame('DDEATH', encodeSparkplugPayload({ timestamp: T0 + 3000, seq: 2, metrics: [] }), true))
    expect(lines(d)).toEqual([`state,factory=fa,line=l1,machine=m1,zone=za state="offline",reason="sparkplug_ddeath",since_ms=${T0 + 3000}i,seq=0i ${T0 + 3000}`])
    expect(reasons(h.handle(ddata(3, [{ alias: 40, doubleValue: 1 }])))).toEqual(['no_birth'])
  })
})

describe('Sparkplug host: metrics as manufacturing records', () => {
  it('the mapping turns counters into production deltas, inspections into quality with a verdict, an unmapped state value into a rejection', () => {
    const h = host()
    h.handle(nbirth())
    h.handle(dbirth(1, [
      { name: 'Counts/Good', alias: 50, datatype: DT.UInt64, longValue: 100 },
      { name: 'Counts/Reject', alias: 51, datatype: DT.UInt64, longValue: 4 },
      { name: 'Cycle/Time', alias: 52, datatype: DT.Double, doubleValue: 9.5 },
      { name: 'Quality/Bore', alias: 53, datatype: DT.Double, doubleValue: 10 },
      { name: 'Status/Mode', alias: 54, datatype: DT.Int32, intValue: 1 },
    ]))
    const out = h.handle(ddata(2, [{ alias: 50, longValue: 103 }, { alias: 52, doubleValue: 9.7 }, { alias: 53, doubleValue: 10.2 }, { alias: 54, intValue: 9 }], T0 + 5000))
    expect(reasons(out)).toEqual(['unmapped_state_value'])
    const text = lines(out).join('\n')
    // Good 100 -> 103 with the reject counter unchanged at its last value: 3 good, 0 reject.
    expect(text).toContain(`production,factory=fa,line=l1,machine=m1,zone=za good=3i,reject=0i,total=3i,cycle_time_s=9.7,counter_good=103i,counter_reject=4i,seq=2i ${T0 + 5000}`)
    expect(text).toContain(`quality,characteristic=bore-diameter,factory=fa,line=l1,machine=m1,zone=za value=10.2,lsl=9.9,usl=10.1,unit="mm",pass=false,seq=2i ${T0 + 5000}`)
    expect(text).not.toContain('signal=Counts')
  })
})

describe('Sparkplug host: robustness', () => {
  it('never throws on garbage: random bytes and truncated payloads on every message type are rejections', () => {
    const h = host()
    const rng = mulberry32(12)
    const good = encodeSparkplugPayload({ seq: 1, metrics: [{ alias: 1, doubleValue: 1 }, { name: 'x', datatype: DT.Template, templateValue: { metrics: [{ name: 'y', datatype: 99, intValue: 1 }] } }] })
    h.handle(nbirth())
    for (let i = 0; i < 2000; i++) {
      const type = ['NBIRTH', 'NDATA', 'NDEATH', 'DBIRTH', 'DDATA', 'DDEATH'][i % 6]!
      const payload = i % 2 === 0 ? bytes(rng, Math.floor(rng() * 64)) : good.subarray(0, Math.floor(rng() * good.length))
      expect(() => h.handle(frame(type, payload, type.startsWith('D')))).not.toThrow()
    }
  })

  it('births that cannot be written durably: the data is handled, the flush says so and the next one writes them', async () => {
    // A births file in a directory that does not exist yet: every write fails (also as root).
    const births = BirthStore.open(join(dir, 'later', 'births.json'))
    const h = host({ births })
    expect(reasons(h.handle(nbirth()))).toEqual([])
    expect(h.flush()).toBe(false)
    expect(births.unflushed).toBe(true)
    await mkdir(join(dir, 'later'))
    expect(h.flush()).toBe(true)
    expect(BirthStore.open(join(dir, 'later', 'births.json')).get('plant-a/edge-1')?.bdSeq).toBe('0')
  })

  it('the processor\'s share writes the births once per batch with Sparkplug messages, before it returns', () => {
    const h = host()
    let flushes = 0
    const counting = { handle: h.handle, flush: () => (flushes++, h.flush()) }
    const iiot = { topic: 'iiot/v1/za/fa/l1/m1/telemetry', gatewayId: 'gw-a', qos: 1, receivedMs: T0, payload: Buffer.alloc(0) }
    decodeSparkplugPart(counting, 1, () => [iiot])
    expect(flushes).toBe(0)
    const part = decodeSparkplugPart(counting, 2, (r) => (r === 0 ? [iiot, { ...nbirth(), qos: 0 }] : [{ ...ndata(1, [{ alias: 1, doubleValue: 3 }]), qos: 0 }]))
    expect(flushes).toBe(1)
    expect(BirthStore.open(join(dir, 'births.json')).get('plant-a/edge-1')).toBeDefined()
    // Positions: record, frame, lines; the iiot/v1 frame is not this part's.
    expect(part.accepted).toEqual([0, 1, 1, 1, 0, 1])
  })

  it('a host that fails inside is an internal_error rejection, not an exception', () => {
    const h = createSparkplugHost({ ...hostDeps(), registry: { current: () => { throw new Error('boom') } } })
    hosts.push(h)
    expect(reasons(h.handle(nbirth()))).toEqual(['internal_error'])
  })

  it('a compressed payload (SPBV1.0_COMPRESSED, GZIP or DEFLATE) is read like the plain one', () => {
    const h = host()
    h.handle(nbirth())
    for (const [seq, algorithm, zip] of [[1, 'GZIP', gzipSync], [2, 'DEFLATE', deflateSync]] as const) {
      const inner = encodeSparkplugPayload({ timestamp: T0 + seq, seq, metrics: [{ alias: 1, doubleValue: 7.5 }] })
      const wrapped = encodeSparkplugPayload({ seq, uuid: 'SPBV1.0_COMPRESSED', body: zip(inner), metrics: [{ name: 'algorithm', datatype: DT.String, stringValue: algorithm }] })
      const out = h.handle(frame('NDATA', wrapped))
      expect(reasons(out), algorithm).toEqual([])
      expect(lines(out)[0]).toContain(`value=7.5,unit="degC",quality="good",seq=${seq}i ${T0 + seq}`)
    }
    const bomb = encodeSparkplugPayload({ seq: 3, uuid: 'SPBV1.0_COMPRESSED', body: Buffer.from('not deflate'), metrics: [] })
    expect(reasons(h.handle(frame('NDATA', bomb)))).toEqual(['decode_error'])
  })
})

describe('Sparkplug host: what an edge node in the field sends', () => {
  const other = (type: string, seq: number, metrics: SpMetricInput[]) => ({ topic: `spBv1.0/plant-a/${type}/edge-1/lathe`, gatewayId: 'gw-a', payload: encodeSparkplugPayload({ timestamp: clock, seq, metrics }), receivedMs: clock })

  it('a device the registry does not list still counts in the seq: the node\'s next message is not held, and no rebirth brings it back in a loop', () => {
    const h = host()
    h.handle(nbirth(0))
    expect(reasons(h.handle(other('DBIRTH', 1, [{ name: 'x', alias: 5, datatype: DT.Int32, intValue: 1 }])))).toEqual(['unknown_device'])
    expect(reasons(h.handle(other('DDATA', 2, [{ alias: 5, intValue: 2 }])))).toEqual(['unknown_device'])
    const out = h.handle(ndata(3, [{ alias: 1, doubleValue: 3 }]))
    expect(reasons(out)).toEqual([])
    expect(lines(out)).toHaveLength(1)
    expect(sent).toEqual([])
  })

  it('a resend of a message waiting in the reorder window is a duplicate, and the window goes on waiting for the gap', () => {
    const h = host()
    h.handle(nbirth(0))
    expect(h.handle(ndata(2, [{ alias: 1, doubleValue: 2 }]))).toEqual([])
    expect(reasons(h.handle(ndata(2, [{ alias: 1, doubleValue: 2 }])))).toEqual(['sequence_late'])
    const out = h.handle(ndata(1, [{ alias: 1, doubleValue: 1 }]))
    expect(lines(out).map((l) => l.split(' ')[1]!.split(',')[0])).toEqual(['value=1', 'value=2'])
    expect(sent).toEqual([])
  })

  it('a DBIRTH that breaks the rules is rejected whole and asks for a rebirth; the previous definitions stay', () => {
    const h = host()
    h.handle(nbirth(0))
    h.handle(dbirth(1, [{ name: 'speed', alias: 30, datatype: DT.Double, doubleValue: 1 }]))
    expect(reasons(h.handle(dbirth(2, [{ name: 'a', alias: 31, datatype: DT.Int32, intValue: 1 }, { name: 'b', alias: 31, datatype: DT.Int32, intValue: 2 }])))).toEqual(['duplicate_alias'])
    expect(sent).toEqual(['plant-a/edge-1'])
    expect(lines(h.handle(ddata(3, [{ alias: 30, doubleValue: 4 }])))[0]).toContain('signal=speed,')
  })

  it('metric names that would share a signal get distinct ones; a name already in the grammar keeps itself', () => {
    const h = host()
    h.handle(nbirth(0))
    const out = h.handle(dbirth(1, [
      { name: '温度', alias: 40, datatype: DT.Double, doubleValue: 21 },
      { name: '圧力', alias: 41, datatype: DT.Double, doubleValue: 3 },
      { name: 'Temp PV', alias: 42, datatype: DT.Double, doubleValue: 100 },
      { name: 'Temp_PV', alias: 43, datatype: DT.Double, doubleValue: 200 },
      { name: `${'x'.repeat(130)}/Speed`, alias: 44, datatype: DT.Double, doubleValue: 5 },
      { name: `${'x'.repeat(130)}/Torque`, alias: 45, datatype: DT.Double, doubleValue: 6 },
      { name: 'Line 1/Motor Speed', alias: 46, datatype: DT.Double, doubleValue: 7 },
    ]))
    expect(reasons(out)).toEqual([])
    const signals = lines(out).map((l) => /signal=([^,]+),/.exec(l)![1]!)
    expect(new Set(signals).size).toBe(7)
    expect(signals).toContain('Temp_PV')
    expect(signals).toContain('Line_1/Motor_Speed')
    for (const s of signals) expect(s).toMatch(/^[A-Za-z0-9_.:/-]{1,128}$/)
    // Data by alias lands on its birth's signal.
    const again = h.handle(ddata(2, [{ alias: 42, doubleValue: 101 }, { alias: 43, doubleValue: 201 }]))
    expect(lines(again).map((l) => /signal=([^,]+),/.exec(l)![1]!)).toEqual([signals[2], 'Temp_PV'])
    expect(signals[2]).toMatch(/^Temp_PV_[0-9a-f]{8}$/)
  })

  it('holds Sparkplug metrics to the iiot/v1 limits: future and too old timestamps, too long strings; the others are stored', () => {
    const h = host()
    h.handle(nbirth(0))
    h.handle(dbirth(1, [{ name: 'v', alias: 50, datatype: DT.Double, doubleValue: 1 }, { name: 'txt', alias: 51, datatype: DT.String, stringValue: 'ok' }]))
    const out = h.handle(ddata(2, [
      { alias: 50, doubleValue: 2, timestamp: clock + 2 * 365 * 86_400_000 },
      { alias: 50, doubleValue: 3, timestamp: 0 },
      { alias: 51, stringValue: 'y'.repeat(257) },
      { alias: 50, doubleValue: 4, timestamp: clock },
    ]))
    expect(reasons(out)).toEqual(['future_timestamp', 'stale_timestamp', 'string_too_long'])
    expect(out.find((o) => !o.ok && o.reason === 'string_too_long')).toMatchObject({ message: expect.stringContaining('"txt"') })
    expect(lines(out)).toEqual([expect.stringContaining(`signal=v,zone=za value=4,`)])
  })

  it('a reason sent as its own metric (mapping.state.reasonMetric) becomes the reason of the state change at its timestamp, never a telemetry signal', () => {
    const h = host()
    h.handle(nbirth(0))
    h.handle(dbirth(1, [{ name: 'Status/Mode', alias: 70, datatype: DT.Int32, intValue: 1 }, { name: 'Status/Reason', alias: 71, datatype: DT.String, stringValue: '' }]))
    const t = T0 + 5_000
    const out = h.handle(ddata(2, [{ alias: 70, intValue: 2, timestamp: t }, { alias: 71, stringValue: 'no-material', timestamp: t }]))
    expect(reasons(out)).toEqual([])
    expect(lines(out).filter((l) => l.startsWith('state,'))).toEqual([expect.stringContaining(`state="idle",reason="no-material",`)])
    expect(lines(out).some((l) => l.includes('signal=Status'))).toBe(false)
    expect(live.get('za/fa/l1/m1')).toMatchObject({ state: 'idle', reason: 'no-material' })
  })

  it('a rejection of data sent by alias names the metric as its birth did', () => {
    const h = host()
    h.handle(nbirth(0))
    h.handle(dbirth(1, [{ name: 'small', alias: 60, datatype: DT.Int8, intValue: 1 }]))
    const out = h.handle(ddata(2, [{ alias: 60, intValue: 300 }]))
    expect(out).toEqual([expect.objectContaining({ ok: false, reason: 'value_out_of_range', message: expect.stringContaining('metric "small"') })])
  })

  it('more metrics than INGEST_MAX_BATCH, plain or compressed, are refused before they are decoded; a body that inflates past the packet limit is not read', () => {
    const h = host()
    h.handle(nbirth(0))
    const many = Array.from({ length: 101 }, () => ({ alias: 1, doubleValue: 1 }))
    expect(reasons(h.handle(ndata(1, many)))).toEqual(['batch_too_large'])
    const inner = encodeSparkplugPayload({ timestamp: T0, seq: 2, metrics: many })
    const zipped = (body: Buffer, seq: number) => frame('NDATA', encodeSparkplugPayload({ seq, uuid: 'SPBV1.0_COMPRESSED', body: deflateSync(body), metrics: [] }))
    const tooMany = h.handle(zipped(inner, 2))
    expect(reasons(tooMany)).toEqual(['batch_too_large'])
    expect(tooMany[0]).toMatchObject({ message: '101 metrics in one payload exceed INGEST_MAX_BATCH (100)' })
    // 70 KB of one string metric, deflated to a few hundred bytes: past the 64 KB bound of this host.
    const big = encodeSparkplugPayload({ timestamp: T0, seq: 3, metrics: [{ alias: 1, stringValue: 'z'.repeat(70_000) }] })
    expect(deflateSync(big).length).toBeLessThan(1000)
    expect(reasons(h.handle(zipped(big, 3)))).toEqual(['decode_error'])
    // Refusals that no rebirth could mend ask for none.
    expect(sent).toEqual([])
  })
})

describe('Sparkplug host: registry', () => {
  it('unknown groups, edge nodes, devices and another gateway are rejections with a reason', () => {
    const h = host()
    const p = encodeSparkplugPayload({ seq: 0, metrics: [] })
    expect(reasons(h.handle({ topic: 'spBv1.0/nowhere/NDATA/edge-1', gatewayId: 'gw-a', payload: p, receivedMs: T0 }))).toEqual(['unknown_sparkplug_group'])
    expect(reasons(h.handle({ topic: 'spBv1.0/plant-a/NDATA/edge-9', gatewayId: 'gw-a', payload: p, receivedMs: T0 }))).toEqual(['unknown_edge_node'])
    expect(reasons(h.handle({ topic: 'spBv1.0/plant-a/NDATA/edge-1', gatewayId: 'gw-b', payload: p, receivedMs: T0 }))).toEqual(['unknown_edge_node'])
    expect(reasons(h.handle({ topic: 'spBv1.0/plant-a/DDATA/edge-1/lathe', gatewayId: 'gw-a', payload: p, receivedMs: T0 }))).toEqual(['unknown_device'])
  })
})
