import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker } from '../../src/broker/broker.js'
import { loadConfig } from '../../src/config/config.js'
import type { AppError } from '../../src/errors.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { createTestCa, type Issued, type TestCa } from '../helpers/certs.js'
import { SECRETS } from '../helpers/fixtures.js'
import { encode } from '../helpers/gateway.js'
import { RawMqtt } from '../helpers/raw-mqtt.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let dir: string
let ca: TestCa
let broker: Issued
const gw: Record<'a' | 'b' | 'unknown' | 'san' | 'rogue', Issued> = {} as never
let svc: TestService

// The broker's certificate and key are copies, so the reload test can replace them.
const files = () => ({ cert: join(dir, 'live', 'broker.crt'), key: join(dir, 'live', 'broker.key') })

beforeAll(async () => {
  influxd = await startTestInfluxd()
  dir = await mkdtemp(join(tmpdir(), 'iiot-tls-'))
  ca = await createTestCa(dir)
  const rogue = await createTestCa(dir, 'rogue-ca')
  broker = await ca.issueBroker()
  gw.a = await ca.issueGateway('gw-a')
  gw.b = await ca.issueGateway('gw-b')
  gw.unknown = await ca.issueGateway('gw-zz')
  gw.san = await ca.issueGateway('cell-modem-17', { sans: ['cell-modem-17', 'gw-a'], name: 'san-gw-a' })
  gw.rogue = await rogue.issueGateway('gw-a', { name: 'rogue-gw-a' })
  await mkdir(join(dir, 'live'))
  await copyFile(broker.cert, files().cert)
  await copyFile(broker.key, files().key)
  svc = await startTestService(influxd.url, { env: tlsEnv('optional') })
})

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
  if (dir) await rm(dir, { recursive: true, force: true })
})

function tlsEnv(clientAuth: string): Record<string, string> {
  return {
    MQTT_TLS_ENABLED: 'true',
    MQTT_TLS_PORT: '0',
    MQTT_WSS_ENABLED: 'true',
    MQTT_WSS_PORT: '0',
    MQTT_TLS_CERT_FILE: files().cert,
    MQTT_TLS_KEY_FILE: files().key,
    MQTT_TLS_CA_FILE: ca.cert,
    MQTT_TLS_CLIENT_AUTH: clientAuth,
  }
}

async function tlsOpts(client?: Issued): Promise<IClientOptions> {
  return { ca: await readFile(ca.cert), ...(client ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {}), rejectUnauthorized: true }
}

async function connectTls(url: string, opts: IClientOptions): Promise<MqttClient> {
  return connectAsync(url, { clientId: `tls-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts }, false)
}

/** The CONNACK return code of an attempt (0 = accepted), or the TLS error code when there was no CONNACK. */
async function connackCode(url: string, opts: IClientOptions): Promise<number | string> {
  try {
    const c = await connectTls(url, opts)
    await c.endAsync()
    return 0
  } catch (err) {
    return (err as { code?: number | string }).code ?? -1
  }
}

const telemetry = (signal: string) => encode('telemetry', { seq: 1, samples: [{ signal, doubleValue: 1, tsMs: Date.now() }] })
const mqtts = () => `mqtts://127.0.0.1:${svc.broker.ports.tls}`
const wss = () => `wss://127.0.0.1:${svc.broker.ports.wss}`

describe('TLS and WSS listeners', () => {
  it('serve MQTT over TLS with a CA-verified broker certificate; a gateway with a secret publishes', async () => {
    const c = await connectTls(mqtts(), { ...(await tlsOpts()), username: 'gw-a', password: SECRETS.gwA })
    await c.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry('over-tls'), { qos: 1 })
    await c.endAsync()
    await eventually(async () => (await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE signal = 'over-tls'`)).length > 0)
  })

  it('serve MQTT over secure WebSocket', async () => {
    const c = await connectTls(wss(), { ...(await tlsOpts()), username: 'gw-b', password: SECRETS.gwB })
    await c.publishAsync('iiot/v1/zb/fb/l1/m1/telemetry', telemetry('over-wss'), { qos: 1 })
    expect(svc.broker.connectionsOf('gw-b')).toBe(1)
    await c.endAsync()
    // The WebSocket stream's close releases the gateway's connection slot, after a clean end or a dropped link.
    await eventually(() => svc.broker.connectionsOf('gw-b') === 0)
    const dropped = await connectTls(wss(), { ...(await tlsOpts()), username: 'gw-b', password: SECRETS.gwB })
    expect(svc.broker.connectionsOf('gw-b')).toBe(1)
    dropped.stream.destroy()
    dropped.end(true)
    await eventually(() => svc.broker.connectionsOf('gw-b') === 0 && svc.broker.aedes.connectedClients === 0)
  })

  it('refuse a client that does not trust the broker certificate (no CA)', async () => {
    expect(await connackCode(mqtts(), { username: 'gw-a', password: SECRETS.gwA, rejectUnauthorized: true })).toBe('SELF_SIGNED_CERT_IN_CHAIN')
  })
})

describe('client certificates (MQTT_TLS_CLIENT_AUTH=optional)', () => {
  it('authenticate a gateway by its certificate alone: the CN names it, and its ACL applies', async () => {
    const c = await connectTls(mqtts(), { ...(await tlsOpts(gw.a)), clientId: 'gw-a-cert' })
    expect(svc.broker.connectionsOf('gw-a')).toBeGreaterThanOrEqual(1)
    await c.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry('by-cert'), { qos: 1 })
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()))
    c.publish('iiot/v1/zb/fb/l1/m1/telemetry', telemetry('cert-intrusion'), { qos: 1 })
    await closed
    c.end(true)
  })

  it('accept a DNS subjectAltName that names the gateway, also over WSS', async () => {
    expect(await connackCode(mqtts(), await tlsOpts(gw.san))).toBe(0)
    expect(await connackCode(wss(), { ...(await tlsOpts(gw.san)), username: 'gw-a' })).toBe(0)
  })

  it('refuse a certificate that names another gateway than the username (5), even with that gateway\'s secret', async () => {
    expect(await connackCode(mqtts(), { ...(await tlsOpts(gw.a)), username: 'gw-b', password: SECRETS.gwB })).toBe(5)
    expect(await connackCode(mqtts(), { ...(await tlsOpts(gw.a)), username: 'gw-a', password: 'wrong' })).toBe(5)
    expect(await connackCode(mqtts(), { ...(await tlsOpts(gw.a)), username: 'gw-a', password: SECRETS.gwA })).toBe(0)
  })

  it('refuse a client id held by one gateway to another gateway\'s own certificate (2); the holder stays connected', async () => {
    // Regression: a takeover [MQTT-3.1.4-2] across gateways closed the holder (docs/security.md).
    const holder = await connectTls(mqtts(), { ...(await tlsOpts(gw.a)), clientId: 'mtls-held' })
    let holderClosed = false
    holder.on('close', () => (holderClosed = true))
    for (let i = 0; i < 3; i++) expect(await connackCode(mqtts(), { ...(await tlsOpts(gw.b)), clientId: 'mtls-held' })).toBe(2)
    expect(await connackCode(mqtts(), { ...(await tlsOpts(gw.b)), clientId: 'mtls-b-own' })).toBe(0)
    expect(holderClosed).toBe(false)
    await holder.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry('mtls-holder-up'), { qos: 1 })
    await holder.endAsync()
  })

  it('refuse a verified certificate that names no registered gateway (5)', async () => {
    expect(await connackCode(mqtts(), await tlsOpts(gw.unknown))).toBe(5)
  })

  it('ignore a certificate from another CA: it authenticates no one, a secret still does', async () => {
    expect(await connackCode(mqtts(), await tlsOpts(gw.rogue))).toBe(5)
    expect(await connackCode(mqtts(), { ...(await tlsOpts(gw.rogue)), username: 'gw-a', password: SECRETS.gwA })).toBe(0)
  })
})

describe('certificate reload', () => {
  const fingerprint = async (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: svc.broker.ports.tls!, ca: [], rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate().fingerprint256)
        s.destroy()
      })
      s.once('error', reject)
    })

  it('serves a replaced certificate to new connections without a restart; open connections stay', async () => {
    const open = await connectTls(mqtts(), { ...(await tlsOpts()), username: 'gw-a', password: SECRETS.gwA })
    const before = await fingerprint()
    const next = await ca.issueBroker('broker-renewed')
    await copyFile(next.key, files().key)
    await copyFile(next.cert, files().cert)
    await eventually(async () => (await fingerprint()) !== before, 10_000, 100)
    expect(await svc.broker.reloadCertificates()).toBe(true)
    expect(open.connected).toBe(true)
    await open.publishAsync('iiot/v1/za/fa/l1/m2/telemetry', telemetry('after-cert-reload'), { qos: 1 })
    await open.endAsync()
    expect(await connackCode(mqtts(), { ...(await tlsOpts()), username: 'gw-a', password: SECRETS.gwA })).toBe(0)
    const reloads = (await svc.metrics.tlsReloads.get()).values.find((v) => v.labels.outcome === 'ok')?.value
    expect(reloads).toBeGreaterThanOrEqual(1)
  })
})

describe('a TLS-only broker with MQTT_TLS_CLIENT_AUTH=required', () => {
  it('has no plain listener, and completes no handshake without a client certificate', async () => {
    const only = await startTestService(influxd.url, { env: { ...tlsEnv('required'), MQTT_TCP_ENABLED: 'false', MQTT_WS_ENABLED: 'false', MQTT_WSS_ENABLED: 'false', MQTT_CONNECT_TIMEOUT_MS: '1000' } })
    // A socket that never starts its handshake: closed after the connect timeout, and one left open at shutdown.
    const silent = await RawMqtt.open(only.broker.ports.tls!)
    const lingering = await RawMqtt.open(only.broker.ports.tls!)
    try {
      expect(await silent.closedWithin(3000)).toBe(true)
      expect(only.broker.ports.tcp).toBeUndefined()
      expect(only.broker.ports.ws).toBeUndefined()
      const url = `mqtts://127.0.0.1:${only.broker.ports.tls}`
      expect(await connackCode(url, { ...(await tlsOpts()), username: 'gw-a', password: SECRETS.gwA })).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
      expect(await connackCode(url, await tlsOpts(gw.a))).toBe(0)
      await eventually(async () => (await only.metrics.refused.get()).values.some((v) => v.labels.reason === 'tls_handshake'))
    } finally {
      await only.dispose()
      expect(await lingering.closedWithin(1000)).toBe(true)
    }
  })
})

describe('TLS configuration errors name the variable', () => {
  const brokerDeps = () => ({
    registry: { current: () => { throw new Error('unused') } },
    ingestor: { handle: () => undefined, onAccepted: () => () => undefined },
    metrics: createMetrics(),
    log: pino({ level: 'silent' }),
  })
  const startWith = async (env: Record<string, string>): Promise<AppError> => {
    const config = loadConfig({ MQTT_HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0', ...env })
    return startBroker(config.mqtt, brokerDeps() as never).then(
      async (b) => {
        await b.close()
        throw new Error('expected start-up to fail')
      },
      (err: AppError) => err,
    )
  }

  it('when TLS is on and the files are not set', () => {
    const err = (() => {
      try {
        loadConfig({ MQTT_TLS_ENABLED: 'true', MQTT_TLS_CLIENT_AUTH: 'required' })
      } catch (e) {
        return e as AppError
      }
    })()
    expect(err?.details?.map((d) => d.split(':')[0]).sort()).toEqual(['MQTT_TLS_CA_FILE', 'MQTT_TLS_CERT_FILE', 'MQTT_TLS_KEY_FILE'])
  })

  it('when a file is missing, unreadable, not PEM, or the key does not match', async () => {
    const missing = await startWith({ ...tlsEnv('none'), MQTT_TLS_PORT: '0', MQTT_TLS_KEY_FILE: join(dir, 'nope.key') })
    expect(missing.code).toBe('IIOT_ERR_CONFIG_INVALID')
    expect(missing.message).toMatch(/MQTT_TLS_KEY_FILE: cannot read ".*nope\.key" \(ENOENT\)/)
    const notPem = await startWith({ ...tlsEnv('none'), MQTT_TLS_CERT_FILE: join(dir, 'broker.ext') })
    expect(notPem.message).toContain('MQTT_TLS_CERT_FILE: not a PEM certificate')
    const mismatch = await startWith({ ...tlsEnv('none'), MQTT_TLS_KEY_FILE: gw.a.key })
    expect(mismatch.message).toContain('MQTT_TLS_KEY_FILE: does not match the certificate in MQTT_TLS_CERT_FILE')
  })
})
