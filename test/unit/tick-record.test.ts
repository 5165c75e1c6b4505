import { describe, expect, it } from 'vitest'
import { encodeFrame } from '../../src/spool/message-frame.js'
import { encodeFrameRecord, encodeRecord } from '../../src/spool/record-codec.js'
import { TickRecord } from '../../src/spool/tick-record.js'

type Message = [topic: string, gateway: string, qos: number, receivedMs: number, payload: Buffer]
const message = (i: number, gateway = 'gw-1'): Message => [`iiot/v1/z/f/l/m${i}/telemetry`, gateway, i % 3, 1_800_000_000_000 + i, Buffer.alloc(i * 7 + 1, i)]

/** What a record of these messages must be: the codec's own encoding of their frames. */
const expected = (seq: number, messages: readonly Message[], estimatedLines: number) =>
  encodeFrameRecord(seq, 5, messages.map((m) => encodeFrame(...m)), estimatedLines)

describe('TickRecord', () => {
  it('encodes the same record when used again for a smaller tick, a larger one, and lines', () => {
    const tick = new TickRecord()
    const ticks = [[message(1), message(2, 'gw-2'), message(3, 'gw-2')], [message(4)], [message(5), message(6), message(7), message(8, 'gw-9'), message(9)]]
    let seq = 1
    for (const messages of ticks) {
      const first = tick.done
      for (const m of messages) tick.addMessage(...m, 2)
      expect(tick.format).toBe('frames')
      expect(tick.encode(seq, 5)).toEqual(expected(seq, messages, 2 * messages.length))
      expect(tick.reset()).toBe(tick)
      // Each record has its own group commit to wait for.
      expect(tick.done).not.toBe(first)
      expect(tick.format).toBeUndefined()
      expect([tick.messages, tick.chars, tick.estimatedLines]).toEqual([0, 0, 0])
      seq++
    }
    tick.addLines(['a b=1 1', 'c d=2 2'])
    expect(tick.format).toBe('lines')
    expect(tick.encode(seq, 5)).toEqual(encodeRecord(seq, 5, ['a b=1 1', 'c d=2 2'], 1))
  })

  it('lets go of the payloads it held once reset', () => {
    const tick = new TickRecord()
    const payload = Buffer.from('held')
    tick.addMessage('t', 'g', 1, 1, payload, 1)
    tick.encode(1, 1)
    tick.reset()
    const held = (tick as unknown as { payloads: Buffer[] }).payloads
    expect(held.includes(payload)).toBe(false)
  })
})
