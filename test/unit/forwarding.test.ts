import { Aedes, type Client } from 'aedes'
import { afterEach, describe, expect, it } from 'vitest'
import { Forwarding, skipUnreachable } from '../../src/broker/forwarding.js'

describe('Forwarding', () => {
  it('reaches nobody in a factory until a subscription there is granted', () => {
    const f = new Forwarding()
    expect(f.mayReach('iiot/v1/za/fa/l1/m1/telemetry')).toBe(false)
    f.granted('iiot/v1/za/fa/')
    expect(f.mayReach('iiot/v1/za/fa/l1/m1/telemetry')).toBe(true)
    expect(f.mayReach('iiot/v1/za/fa/_gateway/gw-a/connectivity')).toBe(true)
    // Another factory of the same zone, and a factory whose name starts like the watched one.
    expect(f.mayReach('iiot/v1/za/fb/l1/m1/telemetry')).toBe(false)
    expect(f.mayReach('iiot/v1/za/fa2/l1/m1/telemetry')).toBe(false)
  })

  it('never reaches anyone with Sparkplug data, and leaves every other topic to the broker', () => {
    const f = new Forwarding()
    for (const type of ['NBIRTH', 'NDEATH', 'DBIRTH', 'DDEATH', 'NDATA', 'DDATA']) expect(f.mayReach(`spBv1.0/plant/${type}/edge-1/dev`)).toBe(false)
    expect(f.mayReach('spBv1.0/plant/NCMD/edge-1')).toBe(true)
    expect(f.mayReach('spBv1.0/STATE/host-1')).toBe(true)
    expect(f.mayReach('$SYS/broker/new/clients')).toBe(true)
    // Too few levels to name a factory: not ours to judge.
    f.granted('iiot/v1/za/fa/')
    expect(f.mayReach('iiot/v1/za')).toBe(true)
  })
})

describe('skipUnreachable', () => {
  let broker: Aedes | undefined
  afterEach(async () => {
    await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()))
    broker = undefined
  })

  const client = { id: 'gw-a-1' } as unknown as Client
  const packet = (topic: string) => ({ cmd: 'publish' as const, topic, payload: Buffer.from('x'), qos: 1 as const, retain: false, dup: false })
  type Publish = (packet: object, client: Client | ((err?: Error | null) => void), done?: (err?: Error | null) => void) => void
  const publish = (b: Aedes, topic: string, from: Client | null) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve())
      const p = (b as unknown as { publish: Publish }).publish.bind(b)
      if (from) p(packet(topic), from, done)
      else p(packet(topic), done)
    })

  it("completes a client's publish nobody may receive without the pub/sub, and delivers once a subscription is granted", async () => {
    broker = await Aedes.createBroker()
    const forwarding = new Forwarding()
    skipUnreachable(broker, forwarding)
    const seen: string[] = []
    broker.subscribe('#', (p: { topic: string }, cb: () => void) => {
      seen.push(p.topic)
      cb()
    }, () => undefined)
    let published = 0
    broker.on('publish', (p: { topic: string }) => void (p.topic.startsWith('$SYS') || published++))

    await publish(broker, 'iiot/v1/za/fa/l1/m1/telemetry', client)
    await publish(broker, 'spBv1.0/plant/NDATA/edge-1', client)
    expect(seen).toEqual([])
    expect(published).toBe(0)

    forwarding.granted('iiot/v1/za/fa/')
    await publish(broker, 'iiot/v1/za/fa/l1/m1/telemetry', client)
    await publish(broker, 'iiot/v1/za/fb/l1/m1/telemetry', client)
    // The broker's own publishes (no client) always go through.
    await publish(broker, 'spBv1.0/STATE/host-1', null)
    expect(seen).toEqual(['iiot/v1/za/fa/l1/m1/telemetry', 'spBv1.0/STATE/host-1'])
    expect(published).toBe(2)
  })
})
