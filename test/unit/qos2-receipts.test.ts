import { describe, expect, it } from 'vitest'
import { followReleases, Qos2Receipts, type IncomingStore } from '../../src/broker/qos2-receipts.js'

const done = Promise.resolve()

describe('Qos2Receipts', () => {
  it('holds a journaled message until its PUBREL, bounded by the receive window per client id', () => {
    const r = new Qos2Receipts(2)
    r.journaled('c1', 'gw-a', 1, done)
    r.journaled('c1', 'gw-a', 2, done)
    expect(r.pending('c1', 'gw-a', 1)).toBe(done)
    expect(r.full('c1', 'gw-a')).toBe(true)
    expect(r.full('c2', 'gw-a')).toBe(false)
    r.release('c1', 1)
    expect(r.pending('c1', 'gw-a', 1)).toBeUndefined()
    expect(r.full('c1', 'gw-a')).toBe(false)
    r.release('c1', 2)
    expect(r.size()).toBe(0)
  })

  it('forgets a message whose append failed, so that its resend is journaled', async () => {
    const r = new Qos2Receipts(10)
    const failed = Promise.reject(new Error('disk'))
    r.journaled('c1', 'gw-a', 5, failed)
    expect(r.pending('c1', 'gw-a', 5)).toBe(failed)
    await failed.catch(() => undefined)
    await Promise.resolve()
    expect(r.pending('c1', 'gw-a', 5)).toBeUndefined()
    expect(r.size()).toBe(0)
  })

  it('a client id passed to another gateway starts with nothing of the previous one', () => {
    const r = new Qos2Receipts(1)
    r.journaled('c1', 'gw-a', 1, done)
    expect(r.pending('c1', 'gw-b', 1)).toBeUndefined()
    expect(r.full('c1', 'gw-b')).toBe(false)
    r.journaled('c1', 'gw-b', 1, done)
    expect(r.pending('c1', 'gw-a', 1)).toBeUndefined()
    expect(r.size()).toBe(1)
  })

  it('follows Aedes: PUBREL (incomingDelPacket) releases one id, cleanIncoming the client id', async () => {
    const r = new Qos2Receipts(10)
    const calls: string[] = []
    const store: IncomingStore = {
      incomingDelPacket: async (c, p) => void calls.push(`del ${c.id} ${p.messageId}`),
      cleanIncoming: async (c) => void calls.push(`clean ${c.id}`),
    }
    followReleases(store, r)
    r.journaled('c1', 'gw-a', 1, done)
    r.journaled('c1', 'gw-a', 2, done)
    r.journaled('c2', 'gw-a', 1, done)
    await store.incomingDelPacket({ id: 'c1' }, { messageId: 1 })
    expect(r.size('c1')).toBe(1)
    await store.cleanIncoming!({ id: 'c1' })
    expect(r.size('c1')).toBe(0)
    expect(r.size('c2')).toBe(1)
    expect(calls).toEqual(['del c1 1', 'clean c1'])
  })
})
