import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SECRETS } from '../helpers/fixtures.js'
import { buildTestApi } from '../helpers/api-app.js'

// The HTTP auth endpoint an external broker (EMQX 5) calls (docs/scaling-out.md), through the real app.
const SECRET = 'broker-auth-secret-0123456789'
const access = { secret: SECRET, serviceUser: 'iiot-service', servicePassword: 'svc-password-0123', announceTopic: 'iiot-internal/v1/accepted', sparkplugHostId: 'iiot-ingest' }
let app: FastifyInstance
let bare: FastifyInstance

beforeAll(async () => {
  app = await buildTestApi({ deps: { brokerAccess: access } })
  bare = await buildTestApi()
})
afterAll(async () => {
  await app.close()
  await bare.close()
})

async function post(path: string, body: object, secret: string | null = SECRET, on = app): Promise<{ status: number; result: unknown }> {
  const res = await on.inject({ method: 'POST', url: `/api/v1/broker/${path}`, payload: body, headers: secret ? { authorization: `Bearer ${secret}` } : {} })
  return { status: res.statusCode, result: res.statusCode === 200 ? res.json().result : undefined }
}

describe('broker HTTP auth endpoint', () => {
  it('answers only the broker that presents the secret, and not at all without one configured', async () => {
    expect((await post('auth', { username: 'gw-a', password: SECRETS.gwA }, null)).status).toBe(401)
    expect((await post('auth', { username: 'gw-a', password: SECRETS.gwA }, 'wrong-secret-0123456789')).status).toBe(401)
    expect((await post('auth', { username: 'gw-a', password: SECRETS.gwA }, SECRET, bare)).status).toBe(404)
  })

  it('authenticates gateways against the registry and the service user against its password', async () => {
    expect(await post('auth', { username: 'gw-a', password: SECRETS.gwA, clientid: 'c1' })).toEqual({ status: 200, result: 'allow' })
    expect((await post('auth', { username: 'gw-a', password: SECRETS.gwB })).result).toBe('deny')
    expect((await post('auth', { username: 'nobody', password: 'x' })).result).toBe('deny')
    expect((await post('auth', { username: 'iiot-service', password: 'svc-password-0123' })).result).toBe('allow')
    expect((await post('auth', { username: 'iiot-service', password: 'svc-password-0124' })).result).toBe('deny')
  })

  it('authorizes as the embedded broker does: a gateway inside its factory only; the service user reads and announces', async () => {
    const acl = async (username: string, action: string, topic: string) => (await post('acl', { username, action, topic, clientid: 'c' })).result
    expect(await acl('gw-a', 'publish', 'iiot/v1/za/fa/l1/m1/telemetry')).toBe('allow')
    expect(await acl('gw-a', 'publish', 'iiot/v1/zb/fb/l1/m1/telemetry')).toBe('deny')
    expect(await acl('gw-a', 'publish', 'iiot/v1/za/fa/_gateway/gw-b/connectivity')).toBe('deny')
    expect(await acl('gw-a', 'publish', 'iiot-internal/v1/accepted/gw-a/iiot/v1/za/fa/l1/m1/state')).toBe('deny')
    expect(await acl('gw-a', 'subscribe', 'iiot/v1/#')).toBe('deny')
    expect(await acl('iiot-service', 'subscribe', '$share/iiot-ingest/iiot/v1/#')).toBe('allow')
    expect(await acl('iiot-service', 'subscribe', 'iiot-internal/v1/accepted/#')).toBe('allow')
    expect(await acl('iiot-service', 'publish', 'iiot/v1/za/fa/l1/m1/telemetry')).toBe('deny')
    expect(await acl('iiot-service', 'publish', 'spBv1.0/g1/NCMD/n1')).toBe('allow')
    expect(await acl('nobody', 'publish', 'iiot/v1/za/fa/l1/m1/telemetry')).toBe('deny')
  })
})
