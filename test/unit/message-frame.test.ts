import { describe, expect, it } from 'vitest'
import { anyTopicStartsWith, decodeFrames, encodeFrame } from '../../src/spool/message-frame.js'

const frames = (topics: string[]) => Buffer.concat(topics.map((t, i) => encodeFrame(t, `gw-${i}`, 1, 1_700_000_000_000 + i, Buffer.from(`payload ${i} spBv1.0/`))))
const SP = Buffer.from('spBv1.0/')

describe('message frames', () => {
  it('split back into what was framed', () => {
    const buf = frames(['iiot/v1/za/fa/l1/m1/telemetry', 'spBv1.0/g/NDATA/n'])
    expect(decodeFrames(buf).map((f) => [f.topic, f.gatewayId, f.qos, f.receivedMs, f.payload.toString()])).toEqual([
      ['iiot/v1/za/fa/l1/m1/telemetry', 'gw-0', 1, 1_700_000_000_000, 'payload 0 spBv1.0/'],
      ['spBv1.0/g/NDATA/n', 'gw-1', 1, 1_700_000_000_001, 'payload 1 spBv1.0/'],
    ])
  })

  it('tell from the headers alone whether any topic starts with a prefix, wherever the frame is (never from a payload)', () => {
    expect(anyTopicStartsWith(frames(['iiot/v1/za/fa/l1/m1/telemetry', 'iiot/v1/za/fa/l1/m2/state']), SP)).toBe(false)
    expect(anyTopicStartsWith(frames(['iiot/v1/za/fa/l1/m1/telemetry', 'spBv1.0/g/NDATA/n']), SP)).toBe(true)
    expect(anyTopicStartsWith(frames(['spBv1.0/g/NBIRTH/n']), SP)).toBe(true)
    expect(anyTopicStartsWith(frames(['spB']), SP)).toBe(false)
    // Same first byte, then a difference: the rest of the prefix is still compared.
    expect(anyTopicStartsWith(frames(['spBv1.1/g/NDATA/n', 'sensor/x']), SP)).toBe(false)
    expect(anyTopicStartsWith(Buffer.alloc(0), SP)).toBe(false)
  })
})
