import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LoadGenerator } from '../../bench/lib/load-generator.js'
import { verifyStored } from '../../bench/lib/verify-stored.js'
import { LOAD_GATEWAYS } from '../helpers/fixtures.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'
import { canMountSmallDisk, mountSmallDisk, warnIfCannotMount, type SmallDisk } from '../helpers/small-disk.js'

// The journal's disk fills up while InfluxDB hangs (SIGSTOP) under a QoS 1 load from real mqtt.js
// gateways: acknowledgements stop (the journal holds them), and once InfluxDB runs again they must
// resume by themselves, with every acknowledged message stored (docs/delivery.md, "A full disk").
// DATA_DIR is a 4 MiB tmpfs, so the only journal segment is the active one (JOURNAL_SEGMENT_BYTES
// is 64 MiB): the case that stayed stuck until an operator stepped in.
const DISK_BYTES = 4 * 1024 * 1024
warnIfCannotMount('durability-disk-full')

let disk: SmallDisk | undefined
let influxd: Awaited<ReturnType<typeof startTestInfluxd>> | undefined
let influxdPid: number | undefined
let svc: TestService | undefined
let gen: LoadGenerator | undefined

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The influxd started on `dataDir`: its config file's path is on its command line. */
function influxdPidFor(dataDir: string): number {
  const config = join(dataDir, 'influxdb.conf')
  for (const e of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')
      if (cmd.includes(config) && /influxd$/.test(cmd[0]!)) return Number(e)
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no influxd process runs with ${config}`)
}

/** The state letter of /proc/PID/stat: 'T' while stopped by a signal. */
const processState = (pid: number) => /^\S+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))![1]

async function hangInfluxd(): Promise<void> {
  process.kill(influxdPid!, 'SIGSTOP')
  await eventually(() => processState(influxdPid!) === 'T')
}

async function resumeInfluxd(): Promise<void> {
  process.kill(influxdPid!, 'SIGCONT')
  await eventually(() => processState(influxdPid!) !== 'T')
}

/** Waits until no acknowledgement has arrived for `quietMs`; returns the count then. */
async function acksStop(g: LoadGenerator, quietMs: number, timeoutMs: number): Promise<number> {
  let last = g.stats().acked
  let since = Date.now()
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    await sleep(100)
    const now = g.stats().acked
    if (now !== last) {
      last = now
      since = Date.now()
    } else if (Date.now() - since >= quietMs) return now
  }
  throw new Error(`acknowledgements did not stop within ${timeoutMs} ms`)
}

async function readyz(s: TestService): Promise<{ status: number; checks: Record<string, boolean> }> {
  const res = await fetch(`${s.httpUrl}/readyz`)
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks }
}

beforeEach(async () => {
  disk = await mountSmallDisk(DISK_BYTES)
  influxd = await startTestInfluxd()
  influxdPid = influxdPidFor(influxd.dataDir)
})

afterEach(async () => {
  await gen?.stop().catch(() => undefined)
  await gen?.disconnect().catch(() => undefined)
  gen = undefined
  // A stopped influxd cannot act on SIGTERM: it runs again before it is stopped.
  if (influxdPid !== undefined) {
    try {
      process.kill(influxdPid, 'SIGCONT')
    } catch {
      // already gone
    }
  }
  await svc?.dispose()
  svc = undefined
  await influxd?.dispose()
  influxd = undefined
  influxdPid = undefined
  await disk?.dispose()
  disk = undefined
}, 60_000)

async function startService(minFreeBytes: number): Promise<TestService> {
  return startTestService(influxd!.url, {
    env: { DATA_DIR: disk!.dir, JOURNAL_MIN_FREE_BYTES: String(minFreeBytes), INFLUX_TIMEOUT_MS: '2000', WRITE_RETRY_MAX_MS: '300', WRITE_BATCH_SIZE: '2000' },
  })
}

/** About 1 MB/s of journal: the 4 MiB disk fills within seconds. */
async function loadUntilAcksStop(s: TestService): Promise<number> {
  gen = new LoadGenerator({ url: s.mqttUrl, gateways: LOAD_GATEWAYS, messagesPerSecond: 1000, samplesPerMessage: 10, qos: 1, maxInflight: 100 })
  await gen.connect()
  gen.start()
  return acksStop(gen, 3000, 60_000)
}

async function resumesAndStoresEverything(s: TestService, ackedWhenFull: number): Promise<void> {
  await resumeInfluxd()
  // The defect: acknowledgements stayed held after InfluxDB came back, until an operator stepped in.
  await eventually(() => gen!.stats().acked > ackedWhenFull + 2000, 60_000, 100)
  await gen!.stop()
  await eventually(() => s.journal.stats().unwrittenRecords === 0, 60_000)
  await eventually(async () => (await readyz(s)).status === 200, 15_000, 200)
  const result = await verifyStored(gen!, (q) => influxQuery(influxd!.url, s.database, q), 10)
  expect(result.acked).toBe(gen!.stats().acked)
  expect(result.acked).toBeGreaterThan(ackedWhenFull + 2000)
  expect(result.lost).toBe(0)
  expect(result.duplicates).toBe(0)
}

describe.skipIf(!canMountSmallDisk)('journal on a full disk', () => {
  it('holds acknowledgements when the disk refuses writes (ENOSPC) and resumes them by itself once InfluxDB writes again', async () => {
    svc = await startService(0)
    await hangInfluxd()
    const ackedWhenFull = await loadUntilAcksStop(svc)
    // The disk is what stopped them: nearly nothing left on it, the journal's own limit far away.
    expect(ackedWhenFull).toBeGreaterThan(1000)
    expect(await disk!.freeBytes()).toBeLessThan(256 * 1024)
    expect(svc.journal.pressure()).toMatchObject({ overLimit: false, lowDiskSpace: true, writeFailing: true })
    const ready = await readyz(svc)
    expect(ready.status).toBe(503)
    expect(ready.checks).toMatchObject({ journal: true, journalDiskSpace: false, journalWrites: false })
    await resumesAndStoresEverything(svc, ackedWhenFull)
  }, 240_000)

  it('counts the disk as full below JOURNAL_MIN_FREE_BYTES, before any write is refused, and recovers by itself', async () => {
    const minFree = 1536 * 1024
    svc = await startService(minFree)
    await hangInfluxd()
    const ackedWhenFull = await loadUntilAcksStop(svc)
    expect(ackedWhenFull).toBeGreaterThan(1000)
    // Stopped short of the threshold (by at most what was in flight at the last check), never by ENOSPC.
    expect(await disk!.freeBytes()).toBeGreaterThan(minFree / 2)
    expect(svc.journal.pressure()).toMatchObject({ overLimit: false, lowDiskSpace: true, writeFailing: false })
    const ready = await readyz(svc)
    expect(ready.status).toBe(503)
    expect(ready.checks).toMatchObject({ journal: true, journalDiskSpace: false, journalWrites: true })
    await resumesAndStoresEverything(svc, ackedWhenFull)
  }, 240_000)
})
