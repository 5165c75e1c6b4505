// OEE page: a line's and its machines' OEE per shift for the current shift, a day or a week, with inputs and largest losses.
import { get } from '../api.js'
import { chosenFactory, refusal, type Page } from '../context.js'
import { errorBox, fmtDuration, fmtPct, fmtTime, h, localDate, note, table, zonedMidnight } from '../dom.js'
import { factorySelect } from '../controls.js'

interface Oee {
  machine?: string
  plannedTimeMs: number
  plannedStopMs: number
  plannedProductionTimeMs: number
  runTimeMs: number
  unplannedDowntimeMs: number
  idleMs: number
  setupMs: number
  offlineMs: number
  unknownMs: number
  idealOutputTimeMs: number
  totalCount: number
  goodCount: number
  rejectCount: number
  availability: number | null
  performance: number | null
  quality: number | null
  oee: number | null
  machines?: Oee[]
}

/** Where the planned production time went (docs/console.md, "OEE"): each loss in time, largest first. */
export function losses(o: Oee): { loss: string; ms: number }[] {
  const perPartMs = o.totalCount > 0 ? o.idealOutputTimeMs / o.totalCount : 0
  return [
    { loss: 'unplanned stops and faults', ms: o.unplannedDowntimeMs },
    { loss: 'idle', ms: o.idleMs },
    { loss: 'setup', ms: o.setupMs },
    { loss: 'offline', ms: o.offlineMs },
    { loss: 'unknown (no state reported)', ms: o.unknownMs },
    { loss: 'speed (below ideal cycle time)', ms: Math.max(0, o.runTimeMs - o.idealOutputTimeMs) },
    { loss: 'rejects (ideal time of rejected parts)', ms: o.rejectCount * perPartMs },
  ]
    .filter((l) => l.ms > 0)
    .sort((a, b) => b.ms - a.ms)
}

const ratios = (o: Oee) => [fmtPct(o.availability), fmtPct(o.performance), fmtPct(o.quality), h('b', { 'data-oee': o.oee ?? '' }, fmtPct(o.oee))]
const inputs = (o: Oee) => [fmtDuration(o.plannedProductionTimeMs / 1000), fmtDuration(o.runTimeMs / 1000), fmtDuration(o.idealOutputTimeMs / 1000), o.goodCount, o.totalCount]
const HEAD = ['A', 'P', 'Q', 'OEE', 'planned production', 'run', 'ideal output', 'good', 'total']

export const oeePage: Page = (root, params, ctx) => {
  const factory = chosenFactory(ctx, params)
  if (!factory) {
    void refusal(params.factory ?? '').then((m) => root.replaceChildren(h('p', { class: 'error', role: 'alert' }, m)))
    return () => {}
  }
  const tz = factory.timezone
  const line = factory.lines.find((l) => l.id === params.line) ?? factory.lines[0]
  if (!line) {
    root.replaceChildren(note(`Factory ${factory.id} has no lines in the registry.`))
    return () => {}
  }
  const span = params.span ?? 'shift'
  const date = params.date ?? localDate(Date.now(), tz)
  const go = (p: Record<string, string | undefined>) => ctx.navigate('oee', { factory: factory.id, line: line.id, span, date: params.date, ...p })
  const dateInput = h('input', { type: 'date', id: 'date', value: date, onchange: (e) => go({ date: (e.target as HTMLInputElement).value, span: span === 'shift' ? 'day' : span }) })
  root.replaceChildren(
    h(
      'header',
      { class: 'page-head' },
      h('h1', {}, `OEE · ${line.id} · ${factory.name ?? factory.id}`),
      factorySelect(ctx, factory.id, params, 'oee'),
      h('select', { id: 'line', onchange: (e) => go({ line: (e.target as HTMLSelectElement).value }) }, factory.lines.map((l) => h('option', { value: l.id, selected: l === line }, l.id))),
      h('select', { id: 'span', onchange: (e) => go({ span: (e.target as HTMLSelectElement).value }) }, [['shift', 'current shift'], ['day', 'day'], ['week', 'week from']].map(([v, t]) => h('option', { value: v, selected: v === span }, t))),
      span === 'shift' ? '' : dateInput,
    ),
    note('loading…'),
  )
  const query: Record<string, string> = { factory: factory.id, line: line.id, by: 'shift' }
  if (span !== 'shift') {
    const startMs = zonedMidnight(date, tz)
    const endMs = Math.min(Date.now(), span === 'week' ? zonedMidnight(localDate(startMs + 7.5 * 86_400_000, tz), tz) : zonedMidnight(localDate(startMs + 1.5 * 86_400_000, tz), tz))
    if (endMs <= startMs) {
      root.replaceChildren(root.firstChild!, note(`${date} has not begun yet in ${tz}.`))
      return () => {}
    }
    query.start = new Date(startMs).toISOString()
    query.end = new Date(endMs).toISOString()
  }
  get('/production/oee', query)
    .then((r) => {
      const o = r.oee as Oee
      const shifts = (r.shifts ?? []) as { name: string; date: string; start: string; end: string; clippedToWindow: boolean; oee: Oee }[]
      const machineRows = (x: Oee) => (x.machines ?? [{ ...x, machine: line.machines[0]?.id }]).map((m) => [m.machine ?? '', ...ratios(m), ...inputs(m)])
      const head = root.firstChild!
      root.replaceChildren(
        head,
        h('p', { id: 'window', 'data-start': r.start, 'data-end': r.end }, `${r.window.description}: ${fmtTime(r.start, tz, true)} – ${fmtTime(r.end, tz, true)} (${tz})`),
        h('div', { class: 'kpis', id: 'kpis' }, [['OEE', o.oee], ['Availability', o.availability], ['Performance', o.performance], ['Quality', o.quality]].map(([k, v]) => h('div', { class: 'kpi' }, h('span', {}, k as string), h('b', {}, fmtPct(v as number | null))))),
        o.totalCount === 0 && o.runTimeMs === 0 ? note('No state or production reported on this line in this window: nothing to measure yet.') : '',
        h('h2', {}, 'Per shift'),
        shifts.length === 0 ? note('No shift of the calendar falls in this window.') : table(['shift', 'from', ...HEAD], shifts.map((s) => [`${s.name}${s.clippedToWindow ? ' (part)' : ''}`, fmtTime(s.start, tz, true), ...ratios(s.oee), ...inputs(s.oee)]), { id: 'shifts' }),
        shifts.length > 0 && (o.machines?.length ?? 0) > 1
          ? h('div', {}, h('h2', {}, 'Machines per shift'), table(['shift', 'from', 'machine', ...HEAD], shifts.flatMap((s) => (s.oee.machines ?? []).map((m) => [s.name, fmtTime(s.start, tz, true), m.machine ?? '', ...ratios(m), ...inputs(m)])), { id: 'machines-per-shift' }))
          : '',
        h('h2', {}, 'Machines over the window'),
        table(['machine', ...HEAD], machineRows(o), { id: 'machines' }),
        h('h2', {}, 'Largest losses'),
        losses(o).length === 0 ? note('No loss in this window.') : table(['loss', 'time', 'share of planned production'], losses(o).map((l) => [l.loss, fmtDuration(l.ms / 1000), fmtPct(o.plannedProductionTimeMs ? l.ms / o.plannedProductionTimeMs : null)]), { id: 'losses' }),
        h('p', { class: 'note' }, 'A = run / planned production time; P = ideal output time / run time; Q = good / total; a line sums its machines\' inputs (docs/api.md, "OEE").'),
        o.plannedStopMs > 0 ? h('p', {}, `Planned stops (not a loss): ${fmtDuration(o.plannedStopMs / 1000)}.`) : '',
      )
    })
    .catch((err) => root.append(errorBox(err)))
  return () => {}
}
