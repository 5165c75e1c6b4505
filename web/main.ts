// The console's shell: asks for the API key once per browser session, then routes #/page?params.
import 'uplot/dist/uPlot.min.css'
import './console.css'
import { apiKey, get, setApiKey, whenUnauthenticated } from './api.js'
import { errorBox, h } from './dom.js'
import type { Ctx, Hierarchy, Page } from './context.js'
import { floorPage } from './pages/floor.js'
import { machinePage } from './pages/machine.js'
import { oeePage } from './pages/oee.js'
import { qualityPage } from './pages/quality.js'
import { parkPage } from './pages/park.js'
import { reportPage } from './pages/report.js'
import { healthPage } from './pages/health.js'
import { tracePage } from './pages/trace.js'

const PAGES: Record<string, { title: string; page: Page }> = {
  floor: { title: 'Floor board', page: floorPage },
  machine: { title: 'Machine', page: machinePage },
  oee: { title: 'OEE', page: oeePage },
  quality: { title: 'Quality', page: qualityPage },
  park: { title: 'Park overview', page: parkPage },
  report: { title: 'Yearly report', page: reportPage },
  health: { title: 'Ingest health', page: healthPage },
  trace: { title: 'Lot trace', page: tracePage },
}

const app = document.getElementById('app')!
let cleanup: (() => void) | undefined

function askKey(message?: string): void {
  cleanup?.()
  cleanup = undefined
  const input = h('input', { type: 'password', name: 'key', id: 'api-key', autocomplete: 'off', placeholder: '<key id>.<secret>', size: 48, required: true })
  const form = h(
    'form',
    { class: 'login', id: 'login' },
    h('h1', {}, 'iiot-ingest console'),
    h('p', {}, 'API key (kept for this browser session only; the console sees what this key may read and nothing more):'),
    input,
    h('button', { type: 'submit' }, 'Open'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    setApiKey(input.value.trim())
    void start()
  })
  app.replaceChildren(form)
  input.focus()
}

let ctx: Ctx | undefined

async function start(): Promise<void> {
  if (!apiKey()) return askKey()
  try {
    const [hierarchy, config] = await Promise.all([get<Hierarchy>('/hierarchy'), fetch('/console/config.json').then((r) => r.json() as Promise<{ offlineAfterS: number }>)])
    ctx = { hierarchy, offlineAfterS: config.offlineAfterS, navigate }
  } catch (err) {
    if (!apiKey()) return askKey('That key was not accepted.')
    app.replaceChildren(errorBox(err))
    return
  }
  route()
}

function navigate(page: string, params: Record<string, string | undefined>): void {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v)
  location.hash = `#/${page}${q.size ? `?${q}` : ''}`
}

function route(): void {
  if (!ctx) return
  cleanup?.()
  cleanup = undefined
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?')
  const name = path in PAGES ? path : 'floor'
  const params = Object.fromEntries(new URLSearchParams(query))
  const main = h('main', { id: 'page', 'data-page': name })
  const nav = h(
    'nav',
    {},
    Object.entries(PAGES).map(([id, p]) => h('a', { href: `#/${id}${params.factory ? `?factory=${encodeURIComponent(params.factory)}` : ''}`, class: id === name ? 'active' : undefined }, p.title)),
    h('button', { type: 'button', class: 'logout', onclick: () => (setApiKey(null), askKey()) }, 'Forget key'),
  )
  // Wall mode (&wall=1): the page alone, for a screen on the shop floor.
  document.body.classList.toggle('wall', params.wall === '1')
  app.replaceChildren(nav, main)
  document.title = `${PAGES[name]!.title} · iiot-ingest`
  try {
    cleanup = PAGES[name]!.page(main, params, ctx)
  } catch (err) {
    main.replaceChildren(errorBox(err))
  }
}

whenUnauthenticated(() => askKey('The API key was refused: type it again.'))
window.addEventListener('hashchange', route)
void start()
