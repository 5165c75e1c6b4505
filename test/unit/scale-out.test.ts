import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import { mosquittoFiles } from '../../src/registry/mosquitto-files.js'
import { MOSQUITTO_HASH_PATTERN, mosquittoHash, verifyMosquittoHash } from '../../src/registry/mosquitto-hash.js'
import { Registry } from '../../src/registry/registry.js'
import { registryFileSchema } from '../../src/registry/registry-schema.js'
import { identityOfTopic } from '../../src/source/topic-identity.js'
import { testRegistry } from '../helpers/fixtures.js'

// Made by Debian's mosquitto_passwd 2.0.11 (`mosquitto_passwd -c -b pw user secret123`).
const FROM_MOSQUITTO_PASSWD = '$7$101$pDPJDfC/THV9qNMf$8+R7ktt+0YX44L95i0x2AFpWrVTbeANoCdRXDTuuKfacpuyhpTt5YV8h4WWGn23ym1EUXCwuO3BAKjzlcVrpTA=='

describe('Mosquitto password hashes', () => {
  it('reads the $7$ format mosquitto_passwd writes, and writes one it reads the same way', async () => {
    expect(MOSQUITTO_HASH_PATTERN.test(FROM_MOSQUITTO_PASSWD)).toBe(true)
    expect(await verifyMosquittoHash('secret123', FROM_MOSQUITTO_PASSWD)).toBe(true)
    expect(await verifyMosquittoHash('secret124', FROM_MOSQUITTO_PASSWD)).toBe(false)
    const ours = await mosquittoHash('s3cret', 1000)
    expect(ours).toMatch(/^\$7\$1000\$/)
    expect(MOSQUITTO_HASH_PATTERN.test(ours)).toBe(true)
    expect(await verifyMosquittoHash('s3cret', ours)).toBe(true)
  })
})

describe('Mosquitto files from the registry', () => {
  it('confines each gateway to its factory\'s lines and its own gateway topics; the service user reads, never a gateway', async () => {
    const raw = (await testRegistry()) as { gateways: { id: string; brokerHash?: string }[] }
    raw.gateways[0]!.brokerHash = FROM_MOSQUITTO_PASSWD
    const files = mosquittoFiles(registryFileSchema.parse(raw), { serviceUser: 'svc', serviceHash: FROM_MOSQUITTO_PASSWD, announceTopic: 'iiot-internal/v1/accepted', sparkplugHostId: 'h' })
    expect(files.passwd).toBe(`svc:${FROM_MOSQUITTO_PASSWD}\ngw-a:${FROM_MOSQUITTO_PASSWD}\n`)
    expect(files.withoutBrokerHash).toEqual(['gw-b'])
    const block = (user: string) => files.acl.split('\n\n').find((b) => b.includes(`user ${user}\n`))!.split('\n').filter((l) => l.startsWith('topic'))
    // Not `iiot/v1/za/fa/+/+/+`: that would match `_gateway/{another gateway}/...` too.
    // Reading inside its own factory, as the embedded broker allows (maySubscribe).
    expect(block('gw-a')).toEqual(['topic write iiot/v1/za/fa/l1/+/+', 'topic write iiot/v1/za/fa/_gateway/gw-a/+', 'topic read iiot/v1/za/fa/#'])
    expect(block('gw-b')).toEqual(['topic write iiot/v1/zb/fb/l1/+/+', 'topic write iiot/v1/zb/fb/_gateway/gw-b/+', 'topic read iiot/v1/zb/fb/#'])
    expect(block('svc')).toContain('topic readwrite iiot-internal/v1/accepted/#')
    for (const gw of ['gw-a', 'gw-b']) {
      expect(block(gw).join('\n')).not.toMatch(/iiot-internal|spBv1\.0\/\+\/NCMD|read iiot\/v1\/#/)
      expect(block(gw).filter((l) => l.startsWith('topic write')).join('\n')).not.toContain('#')
    }
  })
})

describe('identity from the topic (worker mode)', () => {
  it('names a gateway of the factory, refuses what no registered gateway may publish, ignores the host\'s own traffic', async () => {
    const reg = Registry.fromJson(await testRegistry())
    expect(identityOfTopic(reg, 'iiot/v1/za/fa/l1/m1/telemetry')).toEqual({ kind: 'ingest', gatewayId: 'gw-a' })
    expect(identityOfTopic(reg, 'iiot/v1/za/fa/_gateway/gw-a/connectivity')).toEqual({ kind: 'ingest', gatewayId: 'gw-a' })
    expect(identityOfTopic(reg, 'iiot/v1/za/fa/_gateway/gw-b/connectivity')).toMatchObject({ kind: 'refuse', reason: 'not_authorized', zone: 'za', factory: 'fa' })
    expect(identityOfTopic(reg, 'iiot/v1/zb/fa/l1/m1/telemetry')).toMatchObject({ kind: 'refuse' })
    expect(identityOfTopic(reg, 'iiot/v1/za/fx/l1/m1/telemetry')).toMatchObject({ kind: 'refuse' })
    expect(identityOfTopic(reg, 'spBv1.0/STATE/iiot-ingest')).toEqual({ kind: 'ignore' })
    expect(identityOfTopic(reg, 'spBv1.0/g1/NCMD/n1')).toEqual({ kind: 'ignore' })
    expect(identityOfTopic(reg, 'spBv1.0/g1/NDATA/n1')).toMatchObject({ kind: 'refuse' })
    expect(identityOfTopic(reg, 'iiot-internal/v1/accepted/gw-a/iiot/v1/za/fa/l1/m1/telemetry')).toEqual({ kind: 'ignore' })
  })
})

describe('SERVICE_MODE', () => {
  it('is embedded unless set; worker+api plays both roles; broker credentials come in pairs', () => {
    expect(loadConfig({}).scaleOut).toMatchObject({ mode: 'embedded', embeddedBroker: true, worker: false, apiFeed: false })
    expect(loadConfig({ SERVICE_MODE: 'worker+api', BROKER_CLIENT_ID: 'w1' }).scaleOut).toMatchObject({ embeddedBroker: false, worker: true, apiFeed: true, broker: { clientId: 'w1' } })
    expect(() => loadConfig({ SERVICE_MODE: 'worker', BROKER_USERNAME: 'svc' })).toThrow(/BROKER_USERNAME/)
    expect(() => loadConfig({ SERVICE_MODE: 'cluster' })).toThrow(/SERVICE_MODE/)
  })
})
