import type { TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { certificateIdentity, gatewayOfCertificate } from '../../src/broker/client-cert.js'
import { GatewayConnections } from '../../src/broker/gateway-connections.js'
import { FrameScanner } from '../../src/broker/packet-size-guard.js'
import { TokenBucket } from '../../src/broker/token-bucket.js'

describe('FrameScanner', () => {
  const publish = (bodyBytes: number) => Buffer.concat([Buffer.from([0x30]), lengthBytes(bodyBytes), Buffer.alloc(bodyBytes, 1)])
  function lengthBytes(n: number): Buffer {
    const out: number[] = []
    do {
      out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
      n = Math.floor(n / 128)
    } while (n > 0)
    return Buffer.from(out)
  }

  it('follows packets split anywhere across chunks and reports the first oversized one', () => {
    const stream = Buffer.concat([publish(10), publish(300), Buffer.from([0xc0, 0x00]), publish(1000), publish(5000)])
    for (const cut of [1, 2, 3, 7, 64, 500]) {
      const scanner = new FrameScanner(4096)
      let found: number | undefined
      for (let i = 0; i < stream.length && found === undefined; i += cut) found = scanner.feed(stream.subarray(i, i + cut))
      expect(found, `chunks of ${cut}`).toBe(5000)
    }
  })

  it('reports a huge declared length from its header alone', () => {
    expect(new FrameScanner(1 << 20).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))).toBe(268_435_455)
  })

  it('leaves a malformed (five-byte) length to the MQTT parser', () => {
    const scanner = new FrameScanner(10)
    expect(scanner.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBeUndefined()
  })
})

describe('TokenBucket', () => {
  it('allows a burst, then the rate; refusals owe nothing', () => {
    const b = new TokenBucket(10, 20, 0)
    let taken = 0
    for (let i = 0; i < 50; i++) if (b.tryTake(0)) taken++
    expect(taken).toBe(20)
    expect(b.tryTake(50)).toBe(false)
    expect(b.tryTake(100)).toBe(true) // 100 ms at 10/s = one token
  })

  it('reserves into debt with waits that end in call order', () => {
    const b = new TokenBucket(100, 2, 0)
    const ends = [0, 0, 1, 2, 5].map((t) => t + b.reserve(t))
    expect(ends.slice(0, 2)).toEqual([0, 0])
    expect(ends).toEqual([...ends].sort((x, y) => x - y))
    expect(ends[4]).toBeCloseTo(30, 5) // the 5th token of a 2-burst at 100/s is due at 30 ms
    expect(b.isFull(10_000)).toBe(true)
  })
})

describe('client certificate identity', () => {
  const socket = (cert: object, authorized = true) => ({ authorized, getPeerCertificate: () => cert }) as unknown as TLSSocket

  it('takes the CN and the DNS subjectAltNames of a verified certificate only', () => {
    const id = certificateIdentity(socket({ subject: { CN: 'gw-a' }, subjectaltname: 'DNS:gw-a-alt, IP Address:10.0.0.1, DNS:"quoted, DNS:evil"', fingerprint256: 'AA' }))
    expect(id?.names).toEqual(['gw-a', 'gw-a-alt', 'quoted, DNS:evil'])
    expect(certificateIdentity(socket({ subject: { CN: 'gw-a' } }, false))).toBeUndefined()
  })

  it('must name the username when one is given; otherwise the first registered name wins', () => {
    const identity = { names: ['modem-17', 'gw-a'], fingerprint256: '' }
    const registered = (id: string) => id.startsWith('gw-')
    expect(gatewayOfCertificate(identity, 'gw-a', registered)).toEqual({ ok: true, gatewayId: 'gw-a' })
    expect(gatewayOfCertificate(identity, 'gw-b', registered)).toEqual({ ok: false, reason: 'cert_mismatch' })
    expect(gatewayOfCertificate(identity, undefined, registered)).toEqual({ ok: true, gatewayId: 'gw-a' })
    expect(gatewayOfCertificate({ names: ['modem-17'], fingerprint256: '' }, undefined, registered)).toEqual({ ok: false, reason: 'cert_unknown_gateway' })
  })
})

describe('GatewayConnections', () => {
  it('caps distinct client ids; a takeover replaces the holder and the old release is a no-op', () => {
    const c = new GatewayConnections(2)
    const [a, b, a2, x] = [{}, {}, {}, {}]
    expect(c.claim('gw', 'id-a', a)).toBe(true)
    expect(c.claim('gw', 'id-b', b)).toBe(true)
    expect(c.claim('gw', 'id-x', x)).toBe(false)
    expect(c.claim('gw', 'id-a', a2)).toBe(true) // [MQTT-3.1.4-2] takeover
    c.release('gw', 'id-a', a)
    expect(c.count('gw')).toBe(2)
    c.release('gw', 'id-a', a2)
    c.release('gw', 'id-b', b)
    expect(c.total()).toBe(0)
  })
})
