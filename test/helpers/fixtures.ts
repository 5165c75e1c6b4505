import { hashSecret } from '../../src/registry/secret-hash.js'

/** Cheap scrypt parameters: the tests verify the mechanism, not the cost. */
const FAST = { N: 1024, r: 8, p: 1 }

export const SECRETS = {
  gwA: 'gateway-a-secret-0123456789',
  gwB: 'gateway-b-secret-0123456789',
  keyAll: 'key-all-secret-0123456789',
  keyA: 'key-factory-a-secret-0123456789',
  keyZone: 'key-zone-secret-0123456789',
} as const

export const KEYS = {
  all: `ops.${SECRETS.keyAll}`,
  factoryA: `eng-a.${SECRETS.keyA}`,
  zone: `board.${SECRETS.keyZone}`,
} as const

/**
 * Two zones; factory fa (zone za) with gateway gw-a, factory fb (zone zb) with gateway gw-b.
 * Machines: za/fa/l1/{m1,m2}, zb/fb/l1/m1.
 */
export async function testRegistry(): Promise<Record<string, unknown>> {
  return {
    zones: [
      {
        id: 'za',
        name: 'Zone A',
        factories: [
          {
            id: 'fa',
            timezone: 'Asia/Ho_Chi_Minh',
            shifts: [{ name: 'day', start: '06:00', end: '18:00' }],
            lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }, { id: 'm2', idealCycleTimeS: 12 }] }],
          },
        ],
      },
      { id: 'zb', factories: [{ id: 'fb', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 5 }] }] }] },
    ],
    gateways: [
      { id: 'gw-a', factory: 'fa', secretHash: await hashSecret(SECRETS.gwA, FAST) },
      { id: 'gw-b', factory: 'fb', secretHash: await hashSecret(SECRETS.gwB, FAST) },
    ],
    apiKeys: [
      { id: 'ops', secretHash: await hashSecret(SECRETS.keyAll, FAST), scope: { all: true } },
      { id: 'eng-a', secretHash: await hashSecret(SECRETS.keyA, FAST), scope: { factory: 'fa' } },
      { id: 'board', secretHash: await hashSecret(SECRETS.keyZone, FAST), scope: { zone: 'zb' } },
    ],
  }
}

export { hashSecret, FAST }

/** The test registry's gateways as load-generator gateways. */
export const LOAD_GATEWAYS = [
  { id: 'gw-a', secret: SECRETS.gwA, zone: 'za', factory: 'fa', machines: [{ line: 'l1', machine: 'm1' }, { line: 'l1', machine: 'm2' }] },
  { id: 'gw-b', secret: SECRETS.gwB, zone: 'zb', factory: 'fb', machines: [{ line: 'l1', machine: 'm1' }] },
]
