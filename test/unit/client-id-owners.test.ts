import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ClientIdOwners, sessionExists, type SessionStore } from '../../src/broker/client-id-owners.js'

describe('ClientIdOwners', () => {
  it('binds a client id to the first gateway that holds it; the same gateway takes it over, another is refused', () => {
    const owners = new ClientIdOwners()
    const [a1, a2, b] = [{}, {}, {}]
    expect(owners.claim('x', 'gw-a', a1)).toBe(true)
    expect(owners.claim('x', 'gw-b', b)).toBe(false)
    expect(owners.claim('x', 'gw-a', a2)).toBe(true)
    expect(owners.ownerOf('x')).toBe('gw-a')
    // The replaced connection's close changes nothing; the holder's leaves the id owned until released.
    expect(owners.vacate('x', a1)).toBe(false)
    expect(owners.vacate('x', a2)).toBe(true)
    expect(owners.claim('x', 'gw-b', b)).toBe(false)
    owners.releaseIfVacant('x', 'gw-a')
    expect(owners.size()).toBe(0)
    expect(owners.claim('x', 'gw-b', b)).toBe(true)
  })

  it('does not release an id that a connection took again while its session was looked up', () => {
    const owners = new ClientIdOwners()
    const [first, again] = [{}, {}]
    owners.claim('x', 'gw-a', first)
    owners.vacate('x', first)
    owners.claim('x', 'gw-a', again)
    owners.releaseIfVacant('x', 'gw-a')
    expect(owners.ownerOf('x')).toBe('gw-a')
  })
})

describe('sessionExists', () => {
  const store = (subs: Record<string, unknown[]>, outgoing: Record<string, unknown[]>): SessionStore => ({
    subscriptionsByClient: async ({ id }) => subs[id] ?? [],
    outgoingStream: ({ id }) => Readable.from(outgoing[id] ?? []),
  })

  it('is true for stored subscriptions or queued messages, false otherwise', async () => {
    const s = store({ subbed: [{ topic: 't', qos: 1 }] }, { queued: [{ topic: 't' }] })
    expect(await sessionExists(s, 'subbed')).toBe(true)
    expect(await sessionExists(s, 'queued')).toBe(true)
    expect(await sessionExists(s, 'none')).toBe(false)
  })
})
