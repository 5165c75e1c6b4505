import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { machineKey } from '../../src/domain/machine-key.js'
import { seededLiveTable } from '../../src/pipeline/live-seed.js'

const log = pino({ level: 'silent' })
const key = machineKey('za', 'fa', 'l1', 'm1')

describe('seededLiveTable', () => {
  it('starts from what storage knows of each machine', async () => {
    const reader = {
      latestPerMachine: async (lookbackMs: number) => {
        expect(lookbackMs).toBe(86_400_000)
        return new Map([[key, { lastSeenMs: 2000, state: { state: 'fault', reason: 'jam', alarms: ['A1'], sinceMs: 1000, tsMs: 1500 } }]])
      },
    }
    const live = await seededLiveTable(reader, 86_400_000, log)
    expect(live.get(key)).toMatchObject({ lastSeenMs: 2000, state: 'fault', reason: 'jam', alarms: ['A1'], sinceMs: 1000 })
  })

  it('starts empty, without failing, when storage cannot answer', async () => {
    const live = await seededLiveTable({ latestPerMachine: () => Promise.reject(new Error('ECONNREFUSED')) }, 1000, log)
    expect(live.get(key)).toBeUndefined()
  })
})
