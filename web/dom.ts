// Small DOM and formatting helpers: no framework (docs/console.md says why).
type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, string | number | boolean | undefined | null | ((e: Event) => void)>

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v)
    else if (k === 'class') el.className = String(v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c)
  return el
}

export function table(head: string[], rows: Child[][], attrs: Attrs = {}): HTMLTableElement {
  return h('table', attrs, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))))
}

/** A note that says what is missing and why, instead of an empty page. */
export function note(text: string, cls = 'note'): HTMLElement {
  return h('p', { class: cls }, text)
}

export function fmtNum(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  return Number.isInteger(v) ? String(v) : v.toFixed(digits)
}

export function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`
}

export function fmtDuration(s: number): string {
  if (s < 60) return `${Math.round(s)} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
}

/** A time in the factory's time zone (docs/console.md: times are shown where the machines are). */
export function fmtTime(iso: string | number | null | undefined, timeZone: string, withDate = false): string {
  if (iso === null || iso === undefined) return '—'
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    ...(withDate ? { year: 'numeric', month: '2-digit', day: '2-digit' } : {}),
  }).format(new Date(iso))
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms))
}

/** The instant of a local midnight in a time zone (search by the zone's offset at that day). */
export function zonedMidnight(date: string, timeZone: string): number {
  const utc = Date.parse(`${date}T00:00:00Z`)
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(new Date(utc))
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value)
  const asIfUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'))
  return utc - (asIfUtc - utc)
}

export const STATE_COLOURS: Record<string, string> = {
  running: '#2e9e44',
  idle: '#e0b000',
  setup: '#3a7bd5',
  planned_stop: '#8e6bbf',
  unplanned_stop: '#e07000',
  fault: '#d0302f',
  offline: '#808080',
  unknown: '#b8b8b8',
}

export function stateLegend(): HTMLElement {
  return h('div', { class: 'legend' }, Object.entries(STATE_COLOURS).map(([s, c]) => h('span', { class: 'legend-item' }, h('i', { class: `swatch state-${s}`, 'data-colour': c }), s.replace('_', ' '))))
}

export function errorBox(err: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err))
}
