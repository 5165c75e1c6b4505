import type { Browser } from 'playwright-core'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { ensureConsoleBuilt, launchBrowser, openConsole, screenshot } from '../helpers/browser.js'

// The OEE and quality pages against a known past day, published through MQTT, so the page and
// the API answer for exactly the same window (docs/console.md).
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient
let browser: Browser

const H = 3_600_000
const M = 60_000
// Day D, three days ago at UTC midnight: 07:00 in Asia/Ho_Chi_Minh, fa's time zone. fa's day
// shift (06:00-18:00 local) of that date runs from D - 1 h to D + 11 h UTC.
const D = Math.floor(Date.now() / (24 * H)) * 24 * H - 3 * 24 * H
const DATE = new Date(D).toISOString().slice(0, 10)

beforeAll(async () => {
  await ensureConsoleBuilt()
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  await publish(gw, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq: 1, changes: [{ state: 1, tsMs: D - 2 * H }, { state: 6, reasonCode: 'jam', alarmCodes: ['E7'], tsMs: D + 2 * H }, { state: 1, tsMs: D + 2 * H + 20 * M }] }))
  await publish(gw, 'iiot/v1/za/fa/l1/m2/state', encode('state', { seq: 1, changes: [{ state: 1, tsMs: D - 2 * H }, { state: 5, reasonCode: 'no-material', tsMs: D + 4 * H }, { state: 1, tsMs: D + 5 * H }] }))
  await publish(gw, 'iiot/v1/za/fa/l1/m1/production', encode('production', { seq: 1, reports: [{ mode: 1, good: 1000, reject: 20, tsMs: D + 5 * H }] }))
  await publish(gw, 'iiot/v1/za/fa/l1/m2/production', encode('production', { seq: 1, reports: [{ mode: 1, good: 600, reject: 0, tsMs: D + 6 * H }] }))
  // 20 measurements alternating about 25.000, and one far out (rule 1) at index 15.
  const values = Array.from({ length: 20 }, (_, i) => (i === 15 ? 25.2 : 25 + (i % 2 ? 0.004 : -0.004) + i * 0.0001))
  await publish(gw, 'iiot/v1/za/fa/l1/m1/quality', encode('quality', { seq: 1, inspections: values.map((v, i) => ({ characteristic: 'bore.diameter', value: v, lsl: 24.95, usl: 25.05, target: 25, unit: 'mm', tsMs: D + H + i * M })) }))
  await eventually(() => svc.journal.stats().unwrittenRecords === 0)
  await eventually(async () => (await apiGet(svc.httpUrl, `/api/v1/quality/inspections?factory=fa&start=${new Date(D).toISOString()}&end=${new Date(D + 12 * H).toISOString()}`, KEYS.all)).body.count === 20)
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

describe('OEE page', () => {
  it('shows the line\'s and machines\' OEE per shift of a chosen day as the API computes it, with the largest losses', async () => {
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, `#/oee?factory=fa&line=l1&span=day&date=${DATE}`)
    try {
      await page.waitForSelector('#shifts')
      const start = await page.getAttribute('#window', 'data-start')
      const end = await page.getAttribute('#window', 'data-end')
      // The local day in Asia/Ho_Chi_Minh: 17:00 UTC the day before to 17:00 UTC.
      expect([start, end]).toEqual([new Date(D - 7 * H).toISOString(), new Date(D + 17 * H).toISOString()])
      const api = (await apiGet(svc.httpUrl, `/api/v1/production/oee?factory=fa&line=l1&by=shift&start=${start}&end=${end}`, KEYS.all)).body
      expect(api.shifts).toHaveLength(1)
      const shown = (sel: string) => page.locator(`${sel} [data-oee]`).evaluateAll((els: any[]) => els.map((e) => Number(e.dataset.oee)))
      expect(await shown('#shifts')).toEqual([api.shifts[0].oee.oee])
      expect(await shown('#machines')).toEqual(api.oee.machines.map((m: any) => m.oee))
      expect(await shown('#machines-per-shift')).toEqual(api.shifts[0].oee.machines.map((m: any) => m.oee))
      expect(api.oee.oee).toBeGreaterThan(0)
      // The largest loss: speed (ideal output far below run time), then m1's fault and m2's stop (20 + 60 min).
      const losses = await page.locator('#losses tbody tr td:first-child').allTextContents()
      expect(losses[0]).toBe('speed (below ideal cycle time)')
      expect(losses).toContain('unplanned stops and faults')
      expect(await page.locator('#losses tbody tr').filter({ hasText: 'unplanned stops' }).locator('td').nth(1).textContent()).toBe('1 h 20 min')
      await screenshot(page, 'oee')
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})

describe('quality page', () => {
  it('draws the I-MR chart with the API\'s limits and capability, and marks the point that breaks rule 1', async () => {
    const q = `factory=fa&characteristic=bore.diameter&start=${new Date(D).toISOString()}&end=${new Date(D + 12 * H).toISOString()}`
    const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.all, `#/quality?${q}`)
    try {
      await page.waitForSelector('#i-chart canvas')
      const spc = (await apiGet(svc.httpUrl, `/api/v1/quality/spc?${q}`, KEYS.all)).body
      expect(spc.n).toBe(20)
      for (const k of ['cp', 'cpk', 'pp', 'ppk']) expect(Number(await page.textContent(`[data-kpi="${k}"]`))).toBeCloseTo(spc[k], 4)
      expect(Number(await page.getAttribute('#i-chart', 'data-points'))).toBe(20)
      expect(spc.violations.some((v: any) => v.rule === 1 && v.index === 15)).toBe(true)
      expect(Number(await page.getAttribute('#i-chart', 'data-marked'))).toBe(spc.violations.length)
      expect(await page.locator('#violations tbody tr').count()).toBe(spc.violations.length)
      expect(await page.locator('#inspections tbody tr').count()).toBe(20)
      await screenshot(page, 'quality')
      expect(errors).toEqual([])
    } finally {
      await page.context().close()
    }
  })
})
