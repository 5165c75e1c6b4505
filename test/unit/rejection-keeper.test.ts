import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { byLabel, createMetrics } from '../../src/metrics/metrics.js'
import type { RejectionInput } from '../../src/pipeline/rejection-store.js'
import { storageRejection, RejectionKeeper } from '../../src/pipeline/rejection-keeper.js'
import { eventually } from '../helpers/service.js'

const log = pino({ level: 'silent' })
const LINE = 'telemetry,factory=fa,line=l1,machine=m1,signal=temp,zone=za value="oops" 1700000000000'

/** A store whose first `failures` adds reject. */
function flakyStore(failures: number) {
  const kept: RejectionInput[] = []
  let calls = 0
  return {
    kept,
    get calls() {
      return calls
    },
    async add(input: RejectionInput) {
      if (++calls <= failures) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
      kept.push(input)
    },
  }
}

describe('storage rejections', () => {
  it('turns a refused line into a rejection: measurement as topic, zone and factory from its tags, the line as payload', () => {
    expect(storageRejection(LINE, 'field type conflict')).toEqual({
      topic: '(storage) telemetry',
      gateway: undefined,
      zone: 'za',
      factory: 'fa',
      reason: 'refused_by_storage',
      message: 'field type conflict',
      payload: Buffer.from(LINE),
    })
    // A line without tags keeps its whole measurement.
    expect(storageRejection('m value=1 1', 'x').topic).toBe('(storage) m')
  })

  it('keeps a refused line even when the store fails at first, and counts it once, when kept', async () => {
    const metrics = createMetrics()
    const store = flakyStore(2)
    const keeper = new RejectionKeeper(store, { metrics, log, retryMs: 5 })
    const keeping = keeper.keepRefused(LINE, 'field type conflict')
    expect(await byLabel(metrics.rejected, 'reason')).toEqual({})
    await keeping
    expect(store.kept).toHaveLength(1)
    expect(store.calls).toBe(3)
    expect(await byLabel(metrics.rejected, 'reason')).toEqual({ refused_by_storage: 1 })
    expect(keeper.waiting).toBe(0)
    await keeper.close()
  })

  it('close() tries once more, then stops retrying', async () => {
    const metrics = createMetrics()
    const store = flakyStore(Infinity)
    const keeper = new RejectionKeeper(store, { metrics, log, retryMs: 60_000 })
    const keeping = keeper.keepRefused(LINE, 'field type conflict')
    await eventually(() => store.calls === 1)
    await keeper.close()
    await keeping
    expect(store.calls).toBe(2)
    expect(keeper.waiting).toBe(0)
    expect(await byLabel(metrics.rejected, 'reason')).toEqual({})
  })
})
