// Machine page: state timeline, downtime Pareto, telemetry charts with zoom, production counts.
import { get } from '../api.js'
import { timeChart } from '../chart.js'
import { chosenFactory, refusal, type Page } from '../context.js'
import { errorBox, fmtDuration, fmtPct, fmtTime, h, note, stateLegend, table } from '../dom.js'
import { factorySelect } from '../controls.js'

const HOURS = ['1', '4', '8', '24', '168']

export const machinePage: Page = (root, params, ctx) => {
  const factory = chosenFactory(ctx, params)
  if (!factory) {
    void refusal(params.factory ?? '').then((m) => root.replaceChildren(h('p', { class: 'error', role: 'alert' }, m)))
    return () => {}
  }
  const tz = factory.timezone
  const machines = factory.lines.flatMap((l) => l.machines.map((m) => ({ line: l.id, machine: m.id })))
  const chosen = machines.find((m) => m.line === params.line && m.machine === params.machine) ?? machines[0]
  if (!chosen) {
    root.replaceChildren(note(`Factory ${factory.id} has no machines in the registry.`))
    return () => {}
  }
  const endMs = params.end ? Date.parse(params.end) : Date.now()
  const startMs = params.start ? Date.parse(params.start) : endMs - Number(params.hours ?? '1') * 3_600_000
  const window = { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() }
  const base = { factory: factory.id, line: chosen.line, machine: chosen.machine }
  const go = (p: Record<string, string | undefined>) => ctx.navigate('machine', { ...base, ...p })

  const machineSelect = h('select', { id: 'machine', onchange: (e) => { const [line, machine] = (e.target as HTMLSelectElement).value.split('/'); ctx.navigate('machine', { factory: factory.id, line, machine, hours: params.hours }) } }, machines.map((m) => h('option', { value: `${m.line}/${m.machine}`, selected: m === chosen }, `${m.line} / ${m.machine}`)))
  const hoursSelect = h('select', { id: 'hours', onchange: (e) => go({ hours: (e.target as HTMLSelectElement).value }) }, params.start ? h('option', { value: '', selected: true }, 'chosen window') : '', HOURS.map((x) => h('option', { value: x, selected: !params.start && x === (params.hours ?? '1') }, `last ${Number(x) >= 24 ? `${Number(x) / 24} d` : `${x} h`}`)))
  const timelineBox = h('section', { id: 'timeline' }, h('h2', {}, 'State timeline'), note('loading…'))
  const paretoBox = h('section', { id: 'pareto' }, h('h2', {}, 'Downtime by reason'))
  const chartBox = h('section', { id: 'telemetry' }, h('h2', {}, 'Telemetry'))
  const countsBox = h('section', { id: 'counts' }, h('h2', {}, 'Production'))
  root.replaceChildren(
    h('header', { class: 'page-head' }, h('h1', {}, `${chosen.machine} · ${chosen.line} · ${factory.name ?? factory.id}`), factorySelect(ctx, factory.id, params, 'machine'), machineSelect, hoursSelect, params.start ? h('button', { type: 'button', onclick: () => go({ hours: params.hours }) }, 'reset zoom') : null),
    h('p', { class: 'window', id: 'window' }, `${fmtTime(startMs, tz, true)} – ${fmtTime(endMs, tz, true)} (${tz})`),
    timelineBox,
    paretoBox,
    chartBox,
    countsBox,
  )

  const timeline = async () => {
    const t = await get('/equipment/timeline', { ...base, ...window })
    const total = Date.parse(t.end) - Date.parse(t.start)
    const bar = h('div', { class: 'timeline-bar', id: 'timeline-bar' })
    for (const i of t.intervals) {
      const seg = h('div', { class: `seg state-${i.state}`, 'data-state': i.state, title: `${i.state.replace('_', ' ')}${i.reason ? ` (${i.reason})` : ''}${i.alarms.length ? ` alarms ${i.alarms.join(', ')}` : ''}\n${fmtTime(i.start, tz, true)} – ${fmtTime(i.end, tz, true)}\n${fmtDuration(i.durationS)}` })
      seg.style.width = `${(100 * (Date.parse(i.end) - Date.parse(i.start))) / total}%`
      bar.append(seg)
    }
    const rows = Object.entries(t.timeInStateS as Record<string, number>).filter(([, s]) => s > 0).map(([s, sec]) => [s.replace('_', ' '), fmtDuration(sec), fmtPct(sec / (total / 1000))])
    timelineBox.replaceChildren(h('h2', {}, 'State timeline'), stateLegend(), bar, t.intervals.every((i: { state: string }) => i.state === 'unknown')
        ? note('No state report in this window: the machine has not said what it is doing yet.')
        : t.intervals[0]?.state === 'unknown'
          ? note(`Unknown until ${fmtTime(t.intervals[0].end, tz)}: the machine's first state report in this window (before it, none within the API's lookback).`)
          : '', table(['state', 'time', 'share'], rows, { id: 'time-in-state' }))
  }
  const pareto = async () => {
    const d = await get('/equipment/downtime', { ...base, ...window })
    paretoBox.replaceChildren(
      h('h2', {}, 'Downtime by reason'),
      d.reasons.length === 0
        ? note('No planned or unplanned stop in this window.')
        : table(['reason', 'stops', 'duration', 'share', 'cumulative', ''], d.reasons.map((r: { reason: string; count: number; durationS: number; share: number; cumulativeShare: number }) => {
            const bar = h('span', { class: 'pareto-bar' })
            bar.style.width = `${r.share * 100}%`
            return [r.reason, r.count, fmtDuration(r.durationS), fmtPct(r.share), fmtPct(r.cumulativeShare), h('span', { class: 'pareto-track' }, bar)]
          }), { id: 'pareto-table' }),
    )
  }
  const telemetry = async () => {
    const latest = await get('/telemetry/latest', base)
    const numeric = latest.values.filter((v: { value: unknown }) => typeof v.value === 'number').map((v: { signal: string }) => v.signal).sort()
    const signals = params.signals ? params.signals.split(',') : numeric.slice(0, 4)
    if (signals.length === 0) {
      chartBox.replaceChildren(h('h2', {}, 'Telemetry'), note('No numeric telemetry from this machine yet.'))
      return
    }
    const width = Math.max(320, Math.min(1200, root.clientWidth - 40))
    // Downsampled by the API to about one point per pixel shown, within API_MAX_POINTS over all signals.
    const buckets = Math.max(10, Math.min(width, Math.floor(10_000 / signals.length)))
    const intervalS = Math.max(1, Math.ceil((endMs - startMs) / 1000 / buckets))
    const d = await get('/telemetry/series-multi', { ...base, ...window, signals: signals.join(','), interval: `${intervalS}s` })
    const xs = [...new Set(d.series.flatMap((s: { points: { time: string }[] }) => s.points.map((p) => Date.parse(p.time))))].sort((a, b) => (a as number) - (b as number)) as number[]
    const pick = (s: { points: { time: string; value: number | null }[] }) => { const m = new Map(s.points.map((p) => [Date.parse(p.time), p.value])); return xs.map((x) => m.get(x) ?? null) }
    const holder = h('div', { class: 'charts', id: 'telemetry-chart', 'data-interval': `${intervalS}s`, 'data-points': xs.length })
    const picker = h('input', { id: 'signals', value: signals.join(','), size: 60, title: `numeric signals: ${numeric.join(', ')}` })
    picker.addEventListener('change', () => go({ ...params, ...base, signals: picker.value.replace(/\s+/g, '') || undefined }))
    chartBox.replaceChildren(h('h2', {}, 'Telemetry'), h('p', {}, 'Signals: ', picker, ` (mean per ${intervalS} s; drag across a chart to zoom)`), holder)
    // One chart per signal, each on its own scale, cursors in step.
    for (const s of d.series as { signal: string; points: { time: string; value: number | null }[] }[]) {
      const one = h('div', { class: 'chart', 'data-signal': s.signal })
      holder.append(one)
      const unit = latest.values.find((v: { signal: string }) => v.signal === s.signal)?.unit
      timeChart(one, { title: `${s.signal}${unit ? ` (${unit})` : ''}`, xsMs: xs, rangeMs: [startMs, endMs], syncKey: 'machine', series: [{ label: s.signal, values: pick(s) }], timeZone: tz, width, height: 180, onZoom: (a, b) => go({ signals: params.signals, start: new Date(a).toISOString(), end: new Date(b).toISOString() }) })
    }
  }
  const counts = async () => {
    const spanS = (endMs - startMs) / 1000
    const intervalM = Math.max(1, Math.ceil(spanS / 60 / 48))
    const c = await get('/production/counts', { ...base, ...window, interval: `${intervalM}m` })
    const buckets = c.series[0]?.buckets ?? []
    countsBox.replaceChildren(
      h('h2', {}, 'Production'),
      h('p', { id: 'counts-totals' }, `good ${c.totals.good} · reject ${c.totals.reject} · total ${c.totals.total}`),
      buckets.length === 0 ? note('No production report in this window.') : table([`per ${intervalM} min from`, 'good', 'reject', 'total'], buckets.filter((b: { total: number }) => b.total > 0).map((b: { time: string; good: number; reject: number; total: number }) => [fmtTime(b.time, tz), b.good, b.reject, b.total])),
    )
  }
  for (const [box, part] of [[timelineBox, timeline], [paretoBox, pareto], [chartBox, telemetry], [countsBox, counts]] as const) part().catch((err) => box.append(errorBox(err)))
  return () => {}
}
