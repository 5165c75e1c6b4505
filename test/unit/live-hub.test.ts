import { describe, expect, it } from 'vitest'
import { LiveHub, RESUME_WINDOW_MS } from '../../src/api/live-hub.js'
import type { AcceptedMessage } from '../../src/pipeline/pipeline.js'
import { fakeLiveClient } from '../helpers/live-client.js'

function accepted(seq: number): AcceptedMessage {
  return {
    topic: { scope: 'machine', zone: 'z1', factory: 'f1', line: 'l1', machine: 'm1', kind: 'telemetry' },
    gatewayId: 'gw-1',
    message: { kind: 'telemetry', seq, sentTsMs: 1, samples: [{ signal: 's', value: seq, unit: '', tsMs: 1, quality: 'good' }] },
    lines: [],
  }
}

describe('LiveHub', () => {
  it('buffers nothing while no stream client is or recently was connected', () => {
    const hub = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10, firstId: 1 })
    for (let i = 1; i <= 5; i++) hub.publish(accepted(i))
    expect(hub.buffered).toBe(0)
    const c = fakeLiveClient()
    hub.add(c, 0)
    // Ids 1-5 went by with nobody listening: the client is told they are not buffered.
    expect(c.res.chunks).toEqual([': events 1-5 are no longer buffered\n\n'])
  })

  it('keeps the last bufferEvents events while a client is connected and resumes after Last-Event-ID, in order', () => {
    const hub = new LiveHub({ bufferEvents: 3, clientQueueEvents: 10, firstId: 1 })
    const a = fakeLiveClient()
    hub.add(a, undefined)
    for (let i = 1; i <= 5; i++) hub.publish(accepted(i))
    expect(a.res.ids()).toEqual([1, 2, 3, 4, 5])
    expect(hub.buffered).toBe(3)
    const b = fakeLiveClient()
    hub.add(b, 3)
    expect(b.res.ids()).toEqual([4, 5])
    const late = fakeLiveClient()
    hub.add(late, 1)
    expect(late.res.chunks[0]).toBe(': events 2-2 are no longer buffered\n\n')
    expect(late.res.ids()).toEqual([3, 4, 5])
    expect(JSON.parse(late.res.chunks.at(-1)!.split('data: ')[1]!)).toMatchObject({ zone: 'z1', machine: 'm1', gateway: 'gw-1', message: { seq: 5 } })
  })

  it('event ids go on increasing across a restart, and a client resuming from before it is told so', () => {
    const before = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10 }, () => 1_764_000_000_000)
    const a = fakeLiveClient()
    before.add(a, undefined)
    before.publish(accepted(1))
    const lastBefore = a.res.ids().at(-1)!
    // Started a second later.
    const after = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10 }, () => 1_764_000_001_000)
    const b = fakeLiveClient()
    after.add(b, lastBefore)
    after.publish(accepted(2))
    expect(b.res.chunks[0]).toBe(`: the service restarted after event ${lastBefore}; what it accepted meanwhile is not buffered (read it from the REST API)\n\n`)
    expect(b.res.ids()[0]).toBeGreaterThan(lastBefore)
    const c = fakeLiveClient()
    after.add(c, b.res.ids()[0]! + 1000)
    expect(c.res.chunks[0]).toMatch(/was never sent by this service/)
  })

  it('goes on buffering for the resume window after the last client leaves, then lets go', () => {
    let now = 1_000_000
    const hub = new LiveHub({ bufferEvents: 100, clientQueueEvents: 10, firstId: 1 }, () => now)
    const a = fakeLiveClient()
    hub.add(a, undefined)
    hub.publish(accepted(1))
    a.res.end()
    now += RESUME_WINDOW_MS - 1
    hub.publish(accepted(2))
    expect(hub.buffered).toBe(2)
    const back = fakeLiveClient()
    hub.add(back, 1)
    expect(back.res.ids()).toEqual([2])
    back.res.end()
    now += RESUME_WINDOW_MS
    hub.publish(accepted(3))
    expect(hub.buffered).toBe(0)
  })

  it('disconnects a client whose socket stops draining once its queue is full', () => {
    const hub = new LiveHub({ bufferEvents: 0, clientQueueEvents: 2, firstId: 1 })
    const slow = fakeLiveClient()
    hub.add(slow, undefined)
    slow.res.writableNeedDrain = true
    for (let i = 1; i <= 4; i++) hub.publish(accepted(i))
    expect(hub.clientCount).toBe(0)
    expect(hub.slowDisconnects).toBe(1)
    expect(slow.res.ids()).toEqual([1, 2])
  })

  it('an event without a decoded message (a fast-path divergence) carries the journaled lines', () => {
    const hub = new LiveHub({ bufferEvents: 10, clientQueueEvents: 10, firstId: 1 })
    const c = fakeLiveClient()
    hub.add(c, undefined)
    hub.publish({ ...accepted(1), message: undefined, lines: ['telemetry,machine=m1 value=1 1'] })
    const data = JSON.parse(c.res.chunks.at(-1)!.split('data: ')[1]!)
    expect(data).toMatchObject({ machine: 'm1', kind: 'telemetry', lines: ['telemetry,machine=m1 value=1 1'] })
    expect(data).not.toHaveProperty('message')
  })
})

describe('LiveHub: only what someone would receive', () => {
  it('neither serializes nor buffers an event that no connected client, nor one that left lately, accepts', () => {
    let now = 1_000_000
    const hub = new LiveHub({ bufferEvents: 100, clientQueueEvents: 10, firstId: 1 }, () => now)
    let reads = 0
    const counted = (seq: number, machine: string): AcceptedMessage => {
      const a = accepted(seq)
      return {
        ...a,
        topic: { ...a.topic, machine } as AcceptedMessage['topic'],
        get message() {
          reads++
          return a.message
        },
      }
    }
    const onlyM1 = { ...fakeLiveClient(), accepts: (e: { machine: string | undefined }) => e.machine === 'm1' }
    hub.add(onlyM1, undefined)
    for (let i = 1; i <= 10; i++) hub.publish(counted(i, 'm2'))
    // Nobody watches m2: no JSON built (its decoded message never read), nothing kept.
    expect(reads).toBe(0)
    expect(hub.buffered).toBe(0)
    hub.publish(counted(11, 'm1'))
    expect(reads).toBe(1)
    expect(onlyM1.res.ids()).toEqual([11])
    // Gone, but may come back within the resume window: its events are still kept for it, others not.
    onlyM1.res.end()
    now += 1000
    hub.publish(counted(12, 'm1'))
    hub.publish(counted(13, 'm2'))
    expect(hub.buffered).toBe(2)
    const back = { ...fakeLiveClient(), accepts: (e: { machine: string | undefined }) => e.machine === 'm1' }
    hub.add(back, 11)
    expect(back.res.ids()).toEqual([12])
  })
})
