import { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { CONNACK_UNACCEPTABLE_PROTOCOL, ProtocolLevelCheck, guardProtocolLevel, type LevelVerdict } from '../../src/broker/protocol-level-guard.js'

const str = (s: string) => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)])
const connect = (name: string, level: number) => {
  const body = Buffer.concat([str(name), Buffer.from([level, 0x02, 0, 60]), str('id')])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

/** The verdict once the bytes are fed in chunks of `cut`. */
function verdictOf(bytes: Buffer, cut: number): LevelVerdict {
  const check = new ProtocolLevelCheck()
  let v: LevelVerdict = 'wait'
  for (let i = 0; i < bytes.length && v === 'wait'; i += cut) v = check.feed(bytes.subarray(i, i + cut))
  return v
}

describe('ProtocolLevelCheck', () => {
  it('finds a level mqtt-packet does not parse in a CONNECT cut anywhere', () => {
    for (const cut of [1, 2, 5, 100]) {
      expect(verdictOf(connect('MQTT', 6), cut), `chunks of ${cut}`).toEqual({ unacceptableLevel: 6 })
      expect(verdictOf(connect('MQIsdp', 2), cut)).toEqual({ unacceptableLevel: 2 })
      expect(verdictOf(connect('MQTT', 0x86), cut)).toEqual({ unacceptableLevel: 0x86 })
      for (const level of [3, 4, 5, 0x84]) expect(verdictOf(connect('MQTT', level), cut)).toBe('pass')
    }
  })

  it('leaves everything else to the parser', () => {
    expect(verdictOf(Buffer.from([0xc0, 0x00]), 1)).toBe('pass') // PINGREQ first
    expect(verdictOf(connect('MQTX', 6), 1)).toBe('pass') // another protocol name
    expect(verdictOf(Buffer.from([0x10, 0x03, 0x00, 0x04, 0x4d]), 1)).toBe('pass') // ends before its level
    expect(verdictOf(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), 1)).toBe('pass') // five length bytes
    expect(verdictOf(Buffer.from([0x10, 0x0c, 0x00]), 3)).toBe('wait')
  })

  it('decides once: later packets pass untouched', () => {
    const check = new ProtocolLevelCheck()
    expect(check.feed(connect('MQTT', 4))).toBe('pass')
    expect(check.feed(connect('MQTT', 6))).toBe('pass')
  })
})

describe('guardProtocolLevel', () => {
  it('answers CONNACK 1, hands the reader nothing of the refused CONNECT, and closes the stream', async () => {
    const written: Buffer[] = []
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk)
        cb()
      },
    })
    const levels: number[] = []
    guardProtocolLevel(stream, (level) => levels.push(level))
    const closed = new Promise((resolve) => stream.once('close', resolve))
    const bytes = connect('MQTT', 6)
    stream.push(bytes.subarray(0, 5))
    expect(stream.read()).toEqual(bytes.subarray(0, 5)) // not yet decidable: the parser buffers it
    stream.push(bytes.subarray(5))
    expect(stream.read()).toBeNull()
    expect(levels).toEqual([6])
    stream.push(Buffer.from([0xc0, 0x00]))
    expect(stream.read()).toBeNull()
    await closed
    expect(Buffer.concat(written)).toEqual(CONNACK_UNACCEPTABLE_PROTOCOL)
  })
})
