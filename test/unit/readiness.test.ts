import { describe, expect, it } from 'vitest'
import type { JournalPressure } from '../../src/spool/journal.js'
import { createReadiness } from '../../src/readiness.js'

const calm: JournalPressure = { overLimit: false, lowDiskSpace: false, writeFailing: false, diskFreeBytes: 1e9 }

function setup(over: { pressure?: Partial<JournalPressure>; influx?: boolean; oldestUnwrittenMs?: number; lastWriteAt?: number; now?: number } = {}) {
  const now = over.now ?? 1_000_000
  return createReadiness({
    journal: { pressure: () => ({ ...calm, ...over.pressure }), stats: () => ({ oldestUnwrittenMs: over.oldestUnwrittenMs }) },
    lastWriteAt: () => over.lastWriteAt ?? now,
    pingStorage: async () => over.influx ?? true,
    writeStallMs: 60_000,
    now: () => now,
  })
}

describe('readiness', () => {
  it('is ready when InfluxDB answers, the journal has room on its disk and writes progress', async () => {
    expect(await setup()()).toEqual({ ready: true, checks: { influxdb: true, journal: true, journalDiskSpace: true, journalWrites: true, writing: true } })
  })

  it('names the journal disk short of space (below JOURNAL_MIN_FREE_BYTES, or refusing writes)', async () => {
    expect(await setup({ pressure: { lowDiskSpace: true } })()).toEqual({ ready: false, checks: { influxdb: true, journal: true, journalDiskSpace: false, journalWrites: true, writing: true } })
    const full = await setup({ pressure: { lowDiskSpace: true, writeFailing: true } })()
    expect(full).toMatchObject({ ready: false, checks: { journalDiskSpace: false, journalWrites: false } })
  })

  it('names a journal over its size limit, and failing writes (not for want of space)', async () => {
    expect(await setup({ pressure: { overLimit: true } })()).toMatchObject({ ready: false, checks: { journal: false, journalDiskSpace: true } })
    expect(await setup({ pressure: { writeFailing: true } })()).toMatchObject({ ready: false, checks: { journal: true, journalDiskSpace: true, journalWrites: false } })
  })

  it('is not ready when InfluxDB does not answer', async () => {
    expect(await setup({ influx: false })()).toMatchObject({ ready: false, checks: { influxdb: false } })
  })

  it('is not ready when data has waited past READY_WRITE_STALL_MS and nothing was written meanwhile', async () => {
    const now = 1_000_000
    expect(await setup({ now, oldestUnwrittenMs: now - 61_000, lastWriteAt: now - 61_000 })()).toMatchObject({ ready: false, checks: { writing: false } })
    // Old data, but writes progress: still draining.
    expect(await setup({ now, oldestUnwrittenMs: now - 61_000, lastWriteAt: now - 1000 })()).toMatchObject({ ready: true })
    // Nothing written for long, but nothing waits either.
    expect(await setup({ now, lastWriteAt: now - 600_000 })()).toMatchObject({ ready: true })
  })
})
