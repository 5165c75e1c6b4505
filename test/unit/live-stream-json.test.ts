import { describe, expect, it } from 'vitest'
import { LiveHub } from '../../src/api/live-hub.js'
import type { DecodedMessage } from '../../src/domain/records.js'
import type { AcceptedMessage } from '../../src/pipeline/pipeline.js'
import { fakeLiveClient } from '../helpers/live-client.js'

// Regression: the stream sent an absent optional text field as "" (protobuf's default) and an
// absent optional number or flag not at all, where REST answers say null (docs/api.md, "Absent fields").
const T = 1_800_000_000_000
const machine = { scope: 'machine', zone: 'z1', factory: 'f1', line: 'l1', machine: 'm1' } as const

/** The `message` of the stream event the hub sends for `message`. */
function streamed(message: DecodedMessage): any {
  const hub = new LiveHub({ bufferEvents: 0, clientQueueEvents: 10 })
  const client = fakeLiveClient()
  hub.add(client, undefined)
  const topic = message.kind === 'connectivity' ? { scope: 'gateway', zone: 'z1', factory: 'f1', gateway: 'gw-1', kind: message.kind } as const : { ...machine, kind: message.kind }
  const accepted: AcceptedMessage = { topic, gatewayId: 'gw-1', message, lines: [] }
  hub.publish(accepted)
  return JSON.parse(client.res.chunks.at(-1)!.split('data: ')[1]!).message
}

describe('live stream JSON: an absent optional field is null, as in REST', () => {
  it('telemetry: unit', () => {
    const m = streamed({ kind: 'telemetry', seq: 1, sentTsMs: T, samples: [
      { signal: 'door.open', value: true, unit: '', tsMs: T, quality: 'good' },
      { signal: 'temp', value: 40, unit: 'degC', tsMs: T, quality: 'good' },
    ] })
    expect(m.samples).toEqual([
      { signal: 'door.open', value: true, unit: null, tsMs: T, quality: 'good' },
      { signal: 'temp', value: 40, unit: 'degC', tsMs: T, quality: 'good' },
    ])
  })

  it('state: reasonCode', () => {
    const m = streamed({ kind: 'state', seq: 1, sentTsMs: T, changes: [
      { state: 'running', reasonCode: '', alarmCodes: [], tsMs: T },
      { state: 'fault', reasonCode: 'jam', alarmCodes: ['E7'], tsMs: T },
    ] })
    expect(m.changes).toEqual([
      { state: 'running', reasonCode: null, alarmCodes: [], tsMs: T },
      { state: 'fault', reasonCode: 'jam', alarmCodes: ['E7'], tsMs: T },
    ])
  })

  it('production: cycleTimeS, workOrder, product', () => {
    const m = streamed({ kind: 'production', seq: 1, sentTsMs: T, reports: [
      { mode: 'delta', good: 1, reject: 0, cycleTimeS: undefined, workOrder: '', product: '', tsMs: T },
      { mode: 'delta', good: 1, reject: 0, cycleTimeS: 9.5, workOrder: 'WO-1', product: 'P-7', tsMs: T },
    ] })
    expect(m.reports).toEqual([
      { mode: 'delta', good: 1, reject: 0, cycleTimeS: null, workOrder: null, product: null, tsMs: T },
      { mode: 'delta', good: 1, reject: 0, cycleTimeS: 9.5, workOrder: 'WO-1', product: 'P-7', tsMs: T },
    ])
  })

  it('quality: lsl, usl, target, unit, pass, defectCode, lot', () => {
    const m = streamed({ kind: 'quality', seq: 1, sentTsMs: T, inspections: [
      { characteristic: 'visual', value: 1, lsl: undefined, usl: undefined, target: undefined, unit: '', pass: undefined, defectCode: '', lot: '', tsMs: T },
      { characteristic: 'bore', value: 25.1, lsl: 24.95, usl: 25.05, target: 25, unit: 'mm', pass: false, defectCode: 'OVERSIZE', lot: 'L1', tsMs: T },
    ] })
    expect(m.inspections).toEqual([
      { characteristic: 'visual', value: 1, lsl: null, usl: null, target: null, unit: null, pass: null, defectCode: null, lot: null, tsMs: T },
      { characteristic: 'bore', value: 25.1, lsl: 24.95, usl: 25.05, target: 25, unit: 'mm', pass: false, defectCode: 'OVERSIZE', lot: 'L1', tsMs: T },
    ])
  })

  it('connectivity: the link metrics and cellId', () => {
    const absent = { rsrpDbm: undefined, rsrqDb: undefined, sinrDb: undefined, rttMs: undefined, uplinkMbps: undefined, downlinkMbps: undefined }
    const m = streamed({ kind: 'connectivity', seq: 1, sentTsMs: T, reports: [
      { access: 'ethernet', ...absent, cellId: '', tsMs: T },
      { access: '5g-sa', rsrpDbm: -92.5, rsrqDb: -10, sinrDb: 18, rttMs: 9.5, uplinkMbps: 55, downlinkMbps: 410, cellId: 'cell-17', tsMs: T },
    ] })
    expect(m.reports).toEqual([
      { access: 'ethernet', rsrpDbm: null, rsrqDb: null, sinrDb: null, rttMs: null, uplinkMbps: null, downlinkMbps: null, cellId: null, tsMs: T },
      { access: '5g-sa', rsrpDbm: -92.5, rsrqDb: -10, sinrDb: 18, rttMs: 9.5, uplinkMbps: 55, downlinkMbps: 410, cellId: 'cell-17', tsMs: T },
    ])
  })
})
