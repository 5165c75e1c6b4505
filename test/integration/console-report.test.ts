import { readFile } from 'node:fs/promises'
import type { Browser } from 'playwright-core'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { encodeSparkplugPayload } from '../../src/sparkplug/payload.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { ensureConsoleBuilt, launchBrowser, openConsole, screenshot, startTestSimulator } from '../helpers/browser.js'
import { DT, sparkplugRegistry } from '../helpers/sparkplug.js'

// Park overview, yearly report and ingest health in chromium, the service fed by the simulator.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let sim: Awaited<ReturnType<typeof startTestSimulator>>
let gw: MqttClient
let browser: Browser
const YEAR = new Date().getUTCFullYear()

beforeAll(async () => {
  await ensureConsoleBuilt()
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  sim = await startTestSimulator(svc.mqttUrl, [
    { id: 'gw-a', secret: SECRETS.gwA, zone: 'za', factory: 'fa', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }, { id: 'm2', idealCycleTimeS: 12 }] }] },
    { id: 'gw-b', secret: SECRETS.gwB, zone: 'zb', factory: 'fb', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 5 }] }] },
  ])
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  browser = await launchBrowser()
  // Both gateways' first link reports, and a production report from fa (the simulator's first comes within 5 s).
  await eventually(async () => {
    const park = (await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}`, KEYS.all)).body
    return park.zones.every((z: any) => z.gatewaysConnected === 1) && park.zones.every((z: any) => z.factories[0].publishesProduction)
  }, 20_000, 500)
})

afterAll(async () => {
  await browser?.close()
  await gw?.endAsync()
  await sim?.stop()
  await svc?.dispose()
  await influxd?.dispose()
})

describe('park overview and yearly report', () => {
  it('the park page lists each zone with its factories, access and pilots', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, '#/park')
    try {
      await page.waitForSelector('section.zone[data-zone="zb"] table.factories')
      expect(await page.locator('section.zone').evaluateAll((els: any[]) => els.map((e) => e.dataset.zone))).toEqual(['za', 'zb'])
      await screenshot(page, 'park')
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })

  it('the yearly report\'s figures match the connectivity report, it prints without the console\'s controls, and its CSV is the API\'s', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, `#/report?year=${YEAR}`)
    try {
      await page.waitForSelector('#report #targets')
      await eventually(() => svc.journal.stats().unwrittenRecords === 0)
      const conn = (await apiGet(svc.httpUrl, `/api/v1/connectivity/report?year=${YEAR}`, KEYS.all)).body
      const measured = await page.locator('#targets tbody tr .measured').allTextContents()
      expect(Number(measured[0])).toBe(conn.zones.length - conn.zonesWithout5g.length)
      for (const z of conn.zones) {
        const text = await page.locator(`#report section.zone[data-zone="${z.zone}"] > p`).textContent()
        expect(text).toContain(`${z.factoriesReporting} of ${z.factoriesRegistered} factories connected through ${z.gatewaysReporting} gateway(s); ${z.factoriesOn5g} on 5G`)
        const byAccess = await page.locator(`#report section.zone[data-zone="${z.zone}"] table.by-access tbody td`).allTextContents()
        expect(byAccess.map(Number)).toEqual(['5g-sa', '5g-nsa', 'lte', 'wifi', 'wired'].map((k) => z.byAccess[k].factories))
      }
      const park = (await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}`, KEYS.all)).body
      expect(Number(measured[1])).toBe(park.targets.pilots.measured)
      expect(park.targets.pilots.measured).toBe(2)

      await page.emulateMedia({ media: 'print' })
      expect(await page.locator('nav').isVisible()).toBe(false)
      expect(await page.locator('#csv').isVisible()).toBe(false)
      await screenshot(page, 'report')
      await page.pdf({ path: 'test-results/screenshots/report.pdf', format: 'A4' })
      await page.emulateMedia({ media: 'screen' })

      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')])
      const csv = await readFile(await download.path(), 'utf8')
      expect(csv).toBe((await apiGet(svc.httpUrl, `/api/v1/park/overview?year=${YEAR}&format=csv`, KEYS.all)).text)
      expect(download.suggestedFilename()).toBe(`rollout-report-${YEAR}.csv`)
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})

describe('every page with the simulator', () => {
  it('loads without console errors and without an error on the page', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, '#/floor?factory=fa')
    try {
      for (const hash of ['#/floor?factory=fa', '#/machine?factory=fa&line=l1&machine=m1', '#/oee?factory=fa', '#/quality?factory=fa', '#/park', `#/report?year=${YEAR}`, '#/health']) {
        await page.goto(`${svc.httpUrl}/console/${hash}`)
        await page.waitForSelector(`#page[data-page="${hash.slice(2).split('?')[0]}"]`)
        // Settled: nothing left saying "loading…".
        await eventually(async () => !(await page.textContent('#page'))?.includes('loading…'), 10_000, 200)
        expect(await page.locator('[role=alert]').count(), hash).toBe(0)
      }
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})

describe('ingest health', () => {
  it('shows rates, the journal, and the newest rejection with its reason', async () => {
    await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', Buffer.from('Cv///w8B', 'base64'))
    await eventually(async () => (await apiGet(svc.httpUrl, '/api/v1/ingest/rejections?limit=1', KEYS.all)).body.rejections.length === 1)
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, '#/health')
    try {
      await page.waitForSelector('#rejections')
      expect(await page.locator('#rejections tbody tr').first().textContent()).toContain('decode_error')
      expect(await page.locator('#rejected-by-reason').textContent()).toContain('decode_error')
      // The second refresh gives rates: the simulator keeps messages coming.
      await eventually(async () => Number(await page.locator('[data-kpi="accepted/s"] b').textContent()) > 0, 15_000, 250)
      await screenshot(page, 'health')
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })

  it('messages by kind say what each count counts: received is iiot/v1 messages, accepted adds Sparkplug B records', async () => {
    // A quiet service of its own (no simulator) where gw-a is Sparkplug edge node edge-1, machine fa/l1/m2.
    const sp = await startTestService(influxd.url, { registry: await sparkplugRegistry() })
    const clients: MqttClient[] = []
    try {
      const gwB = await connectGateway(sp.mqttUrl, 'gw-b', SECRETS.gwB)
      clients.push(gwB)
      const T = 'iiot/v1/zb/fb/l1/m1/telemetry'
      for (let seq = 1; seq <= 2; seq++) await publish(gwB, T, encode('telemetry', { seq, samples: [{ signal: 'temp', doubleValue: seq, tsMs: Date.now() }] }))
      await publish(gwB, T, Buffer.from('Cv///w8B', 'base64')) // decode_error: received, not accepted
      const node = await connectGateway(sp.mqttUrl, 'gw-a', SECRETS.gwA)
      clients.push(node)
      const birth = [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 0 }, { name: 'Status/Mode', datatype: DT.Int32, intValue: 1 }, { name: 'Temp', datatype: DT.Double, doubleValue: 21.5 }]
      await node.publishAsync('spBv1.0/plant-a/NBIRTH/edge-1', encodeSparkplugPayload({ timestamp: Date.now(), seq: 0, metrics: birth }), { qos: 1 })
      await eventually(async () => (await apiGet(sp.httpUrl, '/api/v1/ingest/stats', KEYS.all)).body.accepted.state === 1)
      await eventually(() => sp.journal.stats().unwrittenRecords === 0)
      const stats = (await apiGet(sp.httpUrl, '/api/v1/ingest/stats', KEYS.all)).body
      // Side by side these read as "all 3 accepted" and "state accepted without being received": one of
      // the 3 received was rejected, and the birth's Temp and Status/Mode are the other accepted records.
      expect(stats.received).toEqual({ telemetry: 3 })
      expect(stats.accepted).toEqual({ telemetry: 3, state: 1 })

      const { page, errors } = await openConsole(browser, sp.httpUrl, KEYS.all, '#/health')
      try {
        await page.waitForSelector('#by-kind')
        // Every kind with a count, the state that only Sparkplug B sent included.
        const rows = await page.locator('#by-kind tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
        expect(rows).toEqual([['telemetry', '3', '3'], ['state', '0', '1']])
        expect(await page.locator('#by-kind thead th').allTextContents()).toEqual(['kind', 'received (iiot/v1 messages)', 'accepted (iiot/v1 messages + Sparkplug B records)'])
        expect(await page.textContent('#health')).toContain('Sparkplug B messages are not in it')
        expect(errors).toEqual([])
      } finally {
        await page.context().close()
      }
    } finally {
      for (const c of clients) await c.endAsync()
      await sp.dispose()
    }
  })

  it('a factory key sees its own rejections and is told why the service-wide figures are missing', async () => {
    const { page } = await openConsole(browser, svc.httpUrl, KEYS.factoryA, '#/health')
    try {
      await page.waitForSelector('#rejections')
      expect(await page.textContent('#health')).toContain('need a key with scope "all"')
      expect(await page.locator('#rates').count()).toBe(0)
    } finally {
      await page.context().close()
    }
  })
})
