import { existsSync } from 'node:fs'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { packageRoot } from '../../src/console/console-routes.js'
import type { Stats } from '../../src/simulator/stats.js'

const root = packageRoot()
export const SCREENSHOT_DIR = join(root, 'test-results', 'screenshots')

/** Debian's chromium (scripts/lib.sh, ensure_chromium): the real binary, not the wrapper script. */
export function chromiumPath(): string {
  const found = [process.env.CHROMIUM_BIN, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => p && existsSync(p))
  if (!found) throw new Error('chromium not found: run scripts/test.sh (ensure_chromium) or apt-get install chromium')
  return found
}

/** Headless chromium; --no-sandbox because CI runs as root (chromium refuses its sandbox there). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] })
}

/** Newest modification time under a folder. */
async function newestMs(dir: string): Promise<number> {
  let newest = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) newest = Math.max(newest, (await stat(join(e.parentPath, e.name))).mtimeMs)
  return newest
}

/**
 * Builds the console into dist/console unless a build newer than web/ is there. Test
 * files may run at once: a mkdir lock keeps them from building over each other.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const out = join(root, 'dist', 'console')
  const lock = join(root, 'dist', '.console-build-lock')
  await mkdir(join(root, 'dist'), { recursive: true })
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      await mkdir(lock)
      break
    } catch {
      if (Date.now() > deadline) await rm(lock, { recursive: true, force: true })
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  try {
    const stamp = join(out, 'index.html')
    const sources = Math.max(await newestMs(join(root, 'web')), (await stat(join(root, 'scripts', 'build-console.js'))).mtimeMs)
    if (existsSync(stamp) && (await stat(stamp)).mtimeMs >= sources) return
    const { buildConsole } = (await import(pathToFileURL(join(root, 'scripts', 'build-console.js')).href)) as { buildConsole: (dir?: string) => Promise<unknown> }
    await buildConsole(out)
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}

export interface ConsolePage {
  readonly page: Page
  /** Console errors and uncaught page errors seen so far. */
  readonly errors: string[]
}

/** A fresh browser context (its own sessionStorage) on the console, logged in with `key`. */
export async function openConsole(browser: Browser, baseUrl: string, key: string, hash = '#/floor'): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(`${baseUrl}/console/${hash}`)
  await page.fill('#api-key', key)
  await page.click('#login button[type=submit]')
  await page.waitForSelector('#page')
  return { page, errors }
}

/** Saves a full-page screenshot under test-results/screenshots (kept by CI). */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}


/**
 * The Quick start's simulator, in-process, publishing for `gateways` (the test registry's
 * gw-a and gw-b by default, with all their machines unless `machines` narrows them).
 */
export async function startTestSimulator(mqttUrl: string, gateways: { id: string; secret: string; zone: string; factory: string; lines: { id: string; machines: { id: string; idealCycleTimeS: number }[] }[] }[]): Promise<{ stop(): Promise<void>; stats: Stats }> {
  const { startSimulation } = await import('../../src/simulator/runner.js')
  const { planFleet } = await import('../../src/simulator/credentials.js')
  const { createStats } = await import('../../src/simulator/stats.js')
  const { messageTypes } = await import('../../src/pipeline/proto-schema.js')
  const stats = createStats()
  const sim = startSimulation({ plan: planFleet({ mqttUrl, gateways }), url: mqttUrl, qos: 1, rate: 2, samples: 4, seed: 7, types: messageTypes(), stats, log: () => {} })
  return { stats, stop: () => sim.stop() }
}
