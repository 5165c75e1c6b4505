import { describe, expect, it } from 'vitest'
import { mayPublish, maySubscribe } from '../../src/domain/acl.js'
import { gatewayTopic, machineTopic, parseTopic } from '../../src/domain/topic.js'

describe('parseTopic', () => {
  it('parses machine and gateway topics', () => {
    expect(parseTopic('iiot/v1/shtp/acme/line-1/m-7/telemetry')).toEqual({ ok: true, topic: { scope: 'machine', zone: 'shtp', factory: 'acme', line: 'line-1', machine: 'm-7', kind: 'telemetry' } })
    expect(parseTopic('iiot/v1/shtp/acme/_gateway/gw-1/connectivity')).toEqual({ ok: true, topic: { scope: 'gateway', zone: 'shtp', factory: 'acme', gateway: 'gw-1', kind: 'connectivity' } })
  })

  it.each([
    ['iiot/v2/z/f/l/m/telemetry', /iiot\/v1/],
    ['iiot/v1/z/f/l/m', /iiot\/v1/],
    ['iiot/v1/Z/f/l/m/telemetry', /zone "Z"/],
    ['iiot/v1/z/f/l/m/alarms', /unknown kind "alarms"/],
    ['iiot/v1/z/f/l/m/connectivity', /unknown kind/],
    ['iiot/v1/z/f/_gateway/gw/telemetry', /unknown gateway-level kind/],
    ['iiot/v1/z/f/l/-m/state', /machine "-m"/],
  ])('rejects %s', (topic, reason) => {
    const r = parseTopic(topic)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toMatch(reason)
  })

  it('round-trips the topic builders', () => {
    const t = { zone: 'z', factory: 'f', line: 'l', machine: 'm', kind: 'quality' as const }
    expect(parseTopic(machineTopic(t))).toEqual({ ok: true, topic: { scope: 'machine', ...t } })
    expect(parseTopic(gatewayTopic({ zone: 'z', factory: 'f', gateway: 'g', kind: 'connectivity' })).ok).toBe(true)
  })
})

describe('gateway ACL', () => {
  const gw = { id: 'gw-1', zone: 'z', factory: 'f' }
  it('publishes only under its own factory, and gateway-level only as itself', () => {
    expect(mayPublish(gw, 'iiot/v1/z/f/l/m/telemetry')).toBe(true)
    expect(mayPublish(gw, 'iiot/v1/z/f/_gateway/gw-1/connectivity')).toBe(true)
    expect(mayPublish(gw, 'iiot/v1/z/f/_gateway/gw-2/connectivity')).toBe(false)
    expect(mayPublish(gw, 'iiot/v1/z/f2/l/m/telemetry')).toBe(false)
    expect(mayPublish(gw, 'iiot/v1/z/ff/l/m/telemetry')).toBe(false)
    expect(mayPublish(gw, 'other/topic')).toBe(false)
  })
  it('subscribes only inside its factory', () => {
    expect(maySubscribe(gw, 'iiot/v1/z/f/#')).toBe(true)
    expect(maySubscribe(gw, 'iiot/v1/z/+/#')).toBe(false)
    expect(maySubscribe(gw, '#')).toBe(false)
    expect(maySubscribe(gw, 'iiot/v1/z/f')).toBe(false)
  })
})
