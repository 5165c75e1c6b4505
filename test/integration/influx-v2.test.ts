import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

// InfluxDB 2.x flavour (default /api/v2/write path with org, bucket and token; InfluxQL on /query
// through the bucket's virtual DBRP). Needs a container runtime: runs where Docker exists.
const runtime = await getContainerRuntimeClient().then(
  () => ({ ok: true as const, why: '' }),
  (err: unknown) => ({ ok: false as const, why: (err as Error).message }),
)
if (!runtime.ok) {
  process.stderr.write(`\n[influx-v2.test] SKIPPED: InfluxDB 2.7 via testcontainers needs a container runtime, and none was found here (${runtime.why}). The 1.x flavour is tested against a real influxd in the other integration tests.\n\n`)
}

const TOKEN = 'test-admin-token-0123456789'

describe.skipIf(!runtime.ok)('InfluxDB 2.7 flavour (testcontainers)', () => {
  let container: StartedTestContainer
  let svc: TestService

  beforeAll(async () => {
    container = await new GenericContainer('influxdb:2.7.11')
      .withEnvironment({
        DOCKER_INFLUXDB_INIT_MODE: 'setup',
        DOCKER_INFLUXDB_INIT_USERNAME: 'admin',
        DOCKER_INFLUXDB_INIT_PASSWORD: 'admin-password-123',
        DOCKER_INFLUXDB_INIT_ORG: 'iiot',
        DOCKER_INFLUXDB_INIT_BUCKET: 'telemetry',
        DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: TOKEN,
      })
      .withExposedPorts(8086)
      .withWaitStrategy(Wait.forHttp('/health', 8086).forStatusCode(200))
      .start()
    const url = `http://${container.getHost()}:${container.getMappedPort(8086)}`
    svc = await startTestService(url, { env: { INFLUX_FLAVOR: 'v2', INFLUX_ORG: 'iiot', INFLUX_BUCKET: 'telemetry', INFLUX_TOKEN: TOKEN } })
  }, 180_000)

  afterAll(async () => {
    await svc?.dispose()
    await container?.stop()
  })

  it('writes through /api/v2/write and reads back through InfluxQL', async () => {
    const gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    const ts = Date.now() - 5000
    await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'v2.check', doubleValue: 12.5, unit: 'bar', tsMs: ts }] }))
    await gw.endAsync()
    const value = await eventually(async () => {
      const res = await fetch(`${svc.httpUrl}/api/v1/telemetry/latest?factory=fa&signal=v2.check`, { headers: { authorization: `Bearer ${KEYS.all}` } })
      const body = (await res.json()) as { values: { value: number; time: string }[] }
      return body.values[0]
    }, 20_000)
    expect(value).toMatchObject({ value: 12.5, time: new Date(ts).toISOString() })
    const ready = await fetch(`${svc.httpUrl}/readyz`)
    expect(ready.status).toBe(200)
  })
})
