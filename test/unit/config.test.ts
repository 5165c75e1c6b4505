import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import { AppError } from '../../src/errors.js'

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    return [...((err as AppError).details ?? [])]
  }
  throw new Error('expected loadConfig to throw')
}

describe('loadConfig', () => {
  it('has working defaults', () => {
    const c = loadConfig({})
    expect([c.mqtt.tcp.enabled, c.mqtt.tcp.port]).toEqual([true, 1883])
    expect(c.http.port).toBe(8080)
    expect(c.influx).toMatchObject({ url: 'http://127.0.0.1:8086', flavor: 'v1', database: 'iiot', retentionPolicy: 'autogen' })
    expect(Object.isFrozen(c.mqtt)).toBe(true)
  })

  it('names every bad variable at once', () => {
    const p = problems({ MQTT_PORT: '70000', HTTP_PORT: 'eighty', INFLUX_URL: 'ftp://x', LOG_LEVEL: 'loud', MQTT_TCP_ENABLED: 'maybe' })
    expect(p.map((x) => x.split(':')[0]).sort()).toEqual(['HTTP_PORT', 'INFLUX_URL', 'LOG_LEVEL', 'MQTT_PORT', 'MQTT_TCP_ENABLED'])
    expect(p.find((x) => x.startsWith('MQTT_PORT'))).toContain('"70000"')
  })

  it('takes whole numbers in decimal digits only', () => {
    // z.coerce.number() took a blank for 0 (a random port), hex and exponents.
    const p = problems({ MQTT_PORT: ' ', HTTP_PORT: '0x1F90', MQTT_WS_PORT: '1e4', JOURNAL_MAX_BYTES: '12.5' })
    expect(p.map((x) => x.split(':')[0]).sort()).toEqual(['HTTP_PORT', 'JOURNAL_MAX_BYTES', 'MQTT_PORT', 'MQTT_WS_PORT'])
    expect(p.find((x) => x.startsWith('HTTP_PORT'))).toMatch(/decimal digits/)
    expect(loadConfig({ HTTP_PORT: ' 9090 ' }).http.port).toBe(9090)
  })

  it('refuses a packet size the journal could not hold in one record', () => {
    expect(problems({ MQTT_MAX_PACKET_BYTES: String(64 * 1024 * 1024) })[0]).toMatch(/^MQTT_MAX_PACKET_BYTES/)
    expect(loadConfig({ MQTT_MAX_PACKET_BYTES: String(32 * 1024 * 1024) }).mqtt.maxPacketBytes).toBe(32 * 1024 * 1024)
  })

  it('requires org, bucket and token for InfluxDB 2.x', () => {
    expect(problems({ INFLUX_FLAVOR: 'v2', INFLUX_ORG: 'acme' }).map((x) => x.split(':')[0])).toEqual(['INFLUX_BUCKET', 'INFLUX_TOKEN'])
    expect(loadConfig({ INFLUX_FLAVOR: 'v2', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b', INFLUX_TOKEN: 't' }).influx.bucket).toBe('b')
  })

  it('wants 1.x credentials in pairs and distinct MQTT ports', () => {
    expect(problems({ INFLUX_USERNAME: 'u' })[0]).toMatch(/^INFLUX_USERNAME/)
    expect(problems({ MQTT_PORT: '1999', MQTT_WS_PORT: '1999' })[0]).toMatch(/^MQTT_WS_PORT/)
  })

  it('treats empty strings as unset and parses booleans and units', () => {
    const c = loadConfig({ MQTT_PORT: '', MQTT_WS_ENABLED: 'false', API_MAX_WINDOW_DAYS: '2' })
    expect(c.mqtt.tcp.port).toBe(1883)
    expect(c.mqtt.ws.enabled).toBe(false)
    expect(c.api.maxWindowMs).toBe(2 * 86_400_000)
  })

  it('does not leak secrets into its messages', () => {
    const p = problems({ INFLUX_FLAVOR: 'v2', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b', INFLUX_TOKEN: 'tok-SECRET', INFLUX_TIMEOUT_MS: '1' })
    expect(p.join('\n')).not.toContain('tok-SECRET')
  })
})
