import type { Browser } from 'playwright-core'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { ensureConsoleBuilt, launchBrowser, openConsole, screenshot, startTestSimulator } from '../helpers/browser.js'
import { CONSOLE_CSP } from '../../src/console/console-routes.js'

// The console in a real headless chromium against the whole service fed by the simulator
// (docs/console.md). fa/l1/m1 and fb/l1/m1 come from the simulator; fa/l1/m2 only from this test.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let sim: Awaited<ReturnType<typeof startTestSimulator>>
let gw: MqttClient
let browser: Browser

const OFFLINE_AFTER_S = 6

beforeAll(async () => {
  await ensureConsoleBuilt()
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { env: { MACHINE_OFFLINE_AFTER_S: String(OFFLINE_AFTER_S) } })
  sim = await startTestSimulator(svc.mqttUrl, [
    { id: 'gw-a', secret: SECRETS.gwA, zone: 'za', factory: 'fa', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }] }] },
    { id: 'gw-b', secret: SECRETS.gwB, zone: 'zb', factory: 'fb', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 5 }] }] },
  ])
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  browser = await launchBrowser()
  // The simulator's first state and telemetry are in.
  await eventually(async () => (await apiGet(svc.httpUrl, '/api/v1/telemetry/latest?factory=fa', KEYS.all)).body.count > 0, 15_000)
})

afterAll(async () => {
  await browser?.close()
  await gw?.endAsync()
  await sim?.stop()
  await svc?.dispose()
  await influxd?.dispose()
})

describe('console assets', () => {
  it('serves the page under a strict CSP, revalidated, and the hashed bundles cached for a year', async () => {
    const page = await fetch(`${svc.httpUrl}/console/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
    expect(page.headers.get('cache-control')).toBe('no-cache')
    const html = await page.text()
    const script = /src="\/console\/(app-[A-Z0-9]{8}\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const js = await fetch(`${svc.httpUrl}/console/${script}`)
    expect(js.status).toBe(200)
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(js.headers.get('content-type')).toMatch(/javascript/)
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    expect((await fetch(`${svc.httpUrl}/`, { redirect: 'manual' })).headers.get('location')).toBe('/console/')
  })
})

describe('floor board', () => {
  it('shows a tile per machine with the API\'s states, and changes a tile within 2 s of a state message, live', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, '#/floor?factory=fa')
    try {
      await page.waitForSelector('.tile[data-machine="l1/m1"]:not([data-state="offline"])', { timeout: 15_000 })
      await page.waitForSelector('#live-status:text("live")')
      const api = (await apiGet(svc.httpUrl, '/api/v1/equipment/state?factory=fa', KEYS.all)).body
      const m1 = api.machines.find((m: any) => m.machine === 'm1')
      expect(await page.getAttribute('.tile[data-machine="l1/m1"]', 'data-state')).toBe(m1.state)
      expect(await page.getAttribute('.tile[data-machine="l1/m2"]', 'data-state')).toBe('offline')
      expect(await page.locator('.tile[data-machine="l1/m2"]').textContent()).toContain('never reported')

      const sent = Date.now()
      await publish(gw, 'iiot/v1/za/fa/l1/m2/state', encode('state', { seq: 1, changes: [{ state: 6, reasonCode: 'spindle-overheat', alarmCodes: ['A100'], tsMs: sent }] }))
      await page.waitForSelector('.tile[data-machine="l1/m2"][data-state="fault"]', { timeout: 2_000 })
      expect(Date.now() - sent).toBeLessThan(2_000)
      const tile = await page.locator('.tile[data-machine="l1/m2"]').textContent()
      expect(tile).toContain('spindle-overheat')
      expect(tile).toContain('A100')
      // Signal values arrive on the stream too.
      await publish(gw, 'iiot/v1/za/fa/l1/m2/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'spindle.temperature', doubleValue: 41.5, unit: 'degC', tsMs: Date.now(), quality: 1 }] }))
      await page.waitForSelector('.tile[data-machine="l1/m2"] dd[data-signal="spindle.temperature"]:text("41.50 degC")', { timeout: 5_000 })
      await screenshot(page, 'floor')

      // Silent for MACHINE_OFFLINE_AFTER_S: grey, without any request from the page.
      const requests: string[] = []
      page.on('request', (r) => requests.push(r.url()))
      await page.waitForSelector('.tile[data-machine="l1/m2"][data-state="offline"]', { timeout: (OFFLINE_AFTER_S + 4) * 1000 })
      expect(requests).toEqual([])
      expect(await page.getAttribute('.tile[data-machine="l1/m1"]', 'data-state')).not.toBe('offline')
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})

describe('live stream', () => {
  it('reconnects when the stream ends, sending Last-Event-ID, and applies the events it received', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, '#/floor')
    try {
      const streams: (string | undefined)[] = []
      let first = true
      // The first stream is a short one that ends after an event with id 7; the next goes to the service.
      await page.route('**/api/v1/stream?*', async (route) => {
        streams.push(route.request().headers()['last-event-id'])
        if (!first) return route.continue()
        first = false
        const data = { zone: 'za', factory: 'fa', line: 'l1', machine: 'm2', kind: 'state', gateway: 'gw-a', message: { kind: 'state', seq: 9, changes: [{ state: 'setup', reasonCode: 'changeover', alarmCodes: [], tsMs: Date.now() }] } }
        await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `retry: 200\n: connected\n\nid: 7\nevent: state\ndata: ${JSON.stringify(data)}\n\n` })
      })
      await page.goto(`${svc.httpUrl}/console/#/floor?factory=fa&wall=1`)
      await page.waitForSelector('.tile[data-machine="l1/m2"][data-state="setup"]')
      await eventually(() => streams.length >= 2, 10_000)
      expect(streams.slice(0, 2)).toEqual([undefined, '7'])
      await page.waitForSelector('#live-status:text("live")')
      expect(await page.locator('nav').isVisible()).toBe(false)
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})

describe('machine page', () => {
  it('shows the timeline, downtime, telemetry and counts the API gives for the same window', async () => {
    await eventually(() => svc.journal.stats().unwrittenRecords === 0)
    const end = new Date(Date.now()).toISOString()
    const start = new Date(Date.now() - 10 * 60_000).toISOString()
    const q = `factory=fa&line=l1&machine=m1&start=${start}&end=${end}`
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, `#/machine?${q}`)
    try {
      await page.waitForSelector('#timeline-bar .seg')
      await page.waitForSelector('#telemetry-chart canvas')
      await page.waitForSelector('#counts-totals')
      const timeline = (await apiGet(svc.httpUrl, `/api/v1/equipment/timeline?${q}`, KEYS.all)).body
      expect(await page.locator('#timeline-bar .seg').evaluateAll((els: any[]) => els.map((e) => e.dataset.state))).toEqual(timeline.intervals.map((i: any) => i.state))
      const counts = (await apiGet(svc.httpUrl, `/api/v1/production/counts?${q}&interval=1m`, KEYS.all)).body
      expect(await page.textContent('#counts-totals')).toBe(`good ${counts.totals.good} · reject ${counts.totals.reject} · total ${counts.totals.total}`)
      const interval = await page.getAttribute('#telemetry-chart', 'data-interval')
      const latest = (await apiGet(svc.httpUrl, '/api/v1/telemetry/latest?factory=fa&line=l1&machine=m1', KEYS.all)).body
      const signals = latest.values.filter((v: any) => typeof v.value === 'number').map((v: any) => v.signal).sort().slice(0, 4)
      const series = (await apiGet(svc.httpUrl, `/api/v1/telemetry/series-multi?${q}&signals=${signals.join(',')}&interval=${interval}`, KEYS.all)).body
      const times = new Set(series.series.flatMap((s: any) => s.points.map((p: any) => p.time)))
      expect(Number(await page.getAttribute('#telemetry-chart', 'data-points'))).toBe(times.size)
      // Downsampled to the pixels shown: about one bucket per pixel of a 10-minute window.
      expect(Number(interval!.replace('s', ''))).toBeLessThanOrEqual(2)
      await screenshot(page, 'machine')
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})

describe('scope', () => {
  it('a factory key sees only its factory, and another factory\'s pages show the API\'s refusal and no data', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.factoryA, '#/floor?factory=fb')
    try {
      const alert = await page.waitForSelector('[role=alert]')
      expect(await alert.textContent()).toMatch(/^403: API key "eng-a" may not read factory "fb"/)
      expect(await page.locator('.tile').count()).toBe(0)
      await page.goto(`${svc.httpUrl}/console/#/machine?factory=fb&line=l1&machine=m1`)
      expect(await (await page.waitForSelector('[role=alert]')).textContent()).toMatch(/^403/)
      for (const other of ['oee', 'quality']) {
        await page.goto(`${svc.httpUrl}/console/#/${other}?factory=fb`)
        await page.waitForSelector(`#page[data-page="${other}"] [role=alert]`)
        expect(await page.textContent('[role=alert]'), other).toMatch(/^403/)
      }
      // The park overview shows the key's own zone and factory only.
      await page.goto(`${svc.httpUrl}/console/#/park`)
      await page.waitForSelector('section.zone')
      expect(await page.locator('section.zone').evaluateAll((els: any[]) => els.map((e) => e.dataset.zone))).toEqual(['za'])
      await page.goto(`${svc.httpUrl}/console/#/floor`)
      await page.waitForSelector('.tile')
      expect(await page.locator('#factory option').evaluateAll((os: any[]) => os.map((o) => o.value))).toEqual(['fa'])
      // Console errors are the browser's notes of the 403 answers, nothing else.
      expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})
