// Floor board: a tile per machine, coloured by state, live from the SSE stream (no polling).
import { get, openStream, type LiveEvent } from '../api.js'
import { chosenFactory, refusal, type Page } from '../context.js'
import { factorySelect } from '../controls.js'
import { errorBox, fmtDuration, fmtNum, fmtTime, h, note, stateLegend } from '../dom.js'

interface Tile {
  line: string
  machine: string
  state: string
  reportedState: string
  reason: string | null
  alarms: string[]
  sinceMs: number | null
  lastSeenMs: number | null
  values: Map<string, { value: unknown; unit: string | null; tsMs: number }>
  el: HTMLElement
}

export const floorPage: Page = (root, params, ctx) => {
  const factory = chosenFactory(ctx, params)
  if (!factory) {
    if (params.factory) void refusal(params.factory).then((m) => root.replaceChildren(h('p', { class: 'error', role: 'alert' }, m)))
    else root.replaceChildren(note('This key reads no factory: there is nothing to show.'))
    return () => {}
  }
  const tz = factory.timezone
  const chosenSignals = params.signals ? params.signals.split(',').filter(Boolean) : undefined
  const tiles = new Map<string, Tile>()
  const grid = h('div', { class: 'floor', id: 'floor' })
  const status = h('span', { class: 'live-status', id: 'live-status' }, 'connecting…')
  const lines = factory.lines.map((l) => l.id)
  const lineSelect = h('select', { id: 'line', onchange: (e) => ctx.navigate('floor', { ...params, factory: factory.id, line: (e.target as HTMLSelectElement).value || undefined }) }, h('option', { value: '' }, 'all lines'), lines.map((l) => h('option', { value: l, selected: l === params.line }, l)))
  const signalsInput = h('input', { id: 'signals', value: params.signals ?? '', placeholder: 'signals, comma-separated (default: first three)', size: 40 })
  signalsInput.addEventListener('change', () => ctx.navigate('floor', { ...params, factory: factory.id, signals: signalsInput.value.replace(/\s+/g, '') || undefined }))
  root.replaceChildren(
    h('header', { class: 'page-head' }, h('h1', {}, `Floor · ${factory.name ?? factory.id}`), factorySelect(ctx, factory.id, params), lineSelect, signalsInput, status),
    stateLegend(),
    grid,
  )

  const key = (line: string, machine: string) => `${line}/${machine}`
  const draw = (t: Tile) => {
    const now = Date.now()
    const shown = t.lastSeenMs === null || now - t.lastSeenMs > ctx.offlineAfterS * 1000 ? 'offline' : t.reportedState
    t.state = shown
    t.el.className = `tile state-${shown}`
    t.el.dataset.state = shown
    const names = [...t.values.keys()].sort()
    const signals = (chosenSignals ?? names.slice(0, 3)).filter((s) => t.values.has(s))
    t.el.replaceChildren(
      h('div', { class: 'tile-name' }, t.machine, h('small', {}, ` ${t.line}`)),
      h('div', { class: 'tile-state' }, shown.replace('_', ' ')),
      h('div', { class: 'tile-reason' }, shown === 'offline' ? (t.lastSeenMs ? `last seen ${fmtTime(t.lastSeenMs, tz)} (was ${t.reportedState.replace('_', ' ')})` : 'never reported') : (t.reason ?? '')),
      h('div', { class: 'tile-since' }, t.sinceMs !== null && shown !== 'offline' ? `for ${fmtDuration((now - t.sinceMs) / 1000)}` : ''),
      t.alarms.length ? h('div', { class: 'tile-alarms' }, `⚠ ${t.alarms.join(', ')}`) : '',
      h('dl', { class: 'tile-values' }, signals.flatMap((s) => { const v = t.values.get(s)!; return [h('dt', {}, s), h('dd', { 'data-signal': s }, typeof v.value === 'number' ? fmtNum(v.value) : String(v.value), v.unit ? ` ${v.unit}` : '')] })),
      h('a', { class: 'tile-link', href: `#/machine?factory=${factory.id}&line=${t.line}&machine=${t.machine}` }, 'details'),
    )
  }

  // Telemetry can arrive many times a second per machine: tiles are redrawn at most once a frame.
  const dirty = new Set<Tile>()
  const redraw = (t: Tile) => {
    if (dirty.size === 0) requestAnimationFrame(() => { dirty.forEach(draw); dirty.clear() })
    dirty.add(t)
  }
  const timer = setInterval(() => tiles.forEach(draw), 1000)
  // The stream opens before the snapshot is read, and its events wait for it: a change that
  // happens in between is then neither lost nor applied twice (stale ones are dropped in apply).
  let pending: LiveEvent[] | undefined = []
  const closeStream = openStream({ factory: factory.id, line: params.line, kinds: 'state,telemetry,production,quality' }, (e) => (pending ? pending.push(e) : apply(e)), (up) => (status.textContent = up ? 'live' : 'reconnecting…'))
  const load = async () => {
    const [state, latest] = await Promise.all([
      get('/equipment/state', { factory: factory.id, line: params.line }),
      get('/telemetry/latest', { factory: factory.id, line: params.line }),
    ])
    for (const m of state.machines) {
      const el = h('section', { class: 'tile', 'data-machine': key(m.line, m.machine) })
      tiles.set(key(m.line, m.machine), { line: m.line, machine: m.machine, state: m.state, reportedState: m.reportedState ?? m.state, reason: m.reason, alarms: m.alarms, sinceMs: m.since ? Date.parse(m.since) : null, lastSeenMs: m.lastSeen ? Date.parse(m.lastSeen) : null, values: new Map(), el })
      grid.append(el)
    }
    for (const v of latest.values) tiles.get(key(v.line, v.machine))?.values.set(v.signal, { value: v.value, unit: v.unit, tsMs: Date.parse(v.time) })
    tiles.forEach(draw)
    if (tiles.size === 0) grid.replaceWith(note('No machines are registered in this scope.'))
    else if ([...tiles.values()].every((t) => t.lastSeenMs === null)) root.append(note('No machine here has sent anything yet: tiles stay grey until their gateway publishes (the simulator starts within seconds).'))
    const queued = pending ?? []
    pending = undefined
    queued.forEach(apply)
  }
  const apply = (e: LiveEvent) => {
    const d = e.data
    const t = tiles.get(key(d.line, d.machine))
    if (!t) return
    t.lastSeenMs = Date.now()
    const m = d.message
    if (m?.kind === 'state' && m.changes.length) {
      const last = [...m.changes].sort((a: { tsMs: number }, b: { tsMs: number }) => a.tsMs - b.tsMs).at(-1)
      // Older than the state the tile shows (an event queued behind the snapshot): nothing to change.
      if (t.sinceMs !== null && last.tsMs < t.sinceMs) return
      // A re-published unchanged state keeps its earlier "since" (docs/api.md, "Machine state").
      if (last.state !== t.reportedState || last.reasonCode !== t.reason || t.sinceMs === null) t.sinceMs = last.tsMs
      t.reportedState = last.state
      t.reason = last.reasonCode
      t.alarms = last.alarmCodes
      draw(t)
      return
    } else if (m?.kind === 'telemetry') {
      for (const s of m.samples) {
        const prev = t.values.get(s.signal)
        if (!prev || prev.tsMs <= s.tsMs) t.values.set(s.signal, { value: s.value, unit: s.unit, tsMs: s.tsMs })
      }
    }
    redraw(t)
  }
  load().catch((err) => root.append(errorBox(err)))
  return () => {
    clearInterval(timer)
    closeStream()
  }
}
