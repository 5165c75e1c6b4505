// Quality page: I-MR chart of a characteristic with centre line, control and spec limits, rule violations, capability, latest inspections.
import { get } from '../api.js'
import { timeChart } from '../chart.js'
import { chosenFactory, refusal, type Page } from '../context.js'
import { errorBox, fmtNum, fmtTime, h, note, table } from '../dom.js'
import { factorySelect } from '../controls.js'

interface Inspection {
  time: string
  machine: string
  line: string
  characteristic: string
  value: number
  lsl: number | null
  usl: number | null
  unit: string | null
  pass: boolean | null
  defectCode: string | null
  lot: string | null
}

export const qualityPage: Page = (root, params, ctx) => {
  const factory = chosenFactory(ctx, params)
  if (!factory) {
    void refusal(params.factory ?? '').then((m) => root.replaceChildren(h('p', { class: 'error', role: 'alert' }, m)))
    return () => {}
  }
  const tz = factory.timezone
  const endMs = params.end ? Date.parse(params.end) : Date.now()
  const startMs = params.start ? Date.parse(params.start) : endMs - Number(params.hours ?? '8') * 3_600_000
  const window = { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() }
  const go = (p: Record<string, string | undefined>) => ctx.navigate('quality', { factory: factory.id, characteristic: params.characteristic, hours: params.hours, ...p })
  const head = h('header', { class: 'page-head' }, h('h1', {}, `Quality · ${factory.name ?? factory.id}`), factorySelect(ctx, factory.id, params, 'quality'))
  root.replaceChildren(head, note('loading…'))

  const load = async () => {
    const recent = await get<{ inspections: Inspection[] }>('/quality/inspections', { factory: factory.id, ...window, limit: 200 })
    const characteristics = [...new Set(recent.inspections.map((i) => i.characteristic))].sort()
    const characteristic = params.characteristic ?? characteristics[0]
    head.append(
      h('select', { id: 'characteristic', onchange: (e) => go({ characteristic: (e.target as HTMLSelectElement).value }) }, [...new Set([...(characteristic ? [characteristic] : []), ...characteristics])].map((c) => h('option', { value: c, selected: c === characteristic }, c))),
      h('select', { id: 'hours', onchange: (e) => go({ hours: (e.target as HTMLSelectElement).value }) }, params.start ? h('option', { value: '', selected: true }, 'chosen window') : '', ['1', '8', '24', '168'].map((x) => h('option', { value: x, selected: !params.start && x === (params.hours ?? '8') }, `last ${x} h`))),
    )
    if (!characteristic) {
      root.replaceChildren(head, note(`No inspection reported by ${factory.id} between ${fmtTime(startMs, tz, true)} and ${fmtTime(endMs, tz, true)}: the SPC chart needs measurements (the simulator inspects every fifth part).`))
      return
    }
    const [spc, points] = await Promise.all([
      get('/quality/spc', { factory: factory.id, characteristic, ...window }),
      get<{ inspections: Inspection[] }>('/quality/inspections', { factory: factory.id, characteristic, ...window, limit: 10_000 }),
    ])
    // The chart's points in time order, as the API's SPC has them (its newest 10,000 of the window).
    const rows = [...points.inspections].reverse()
    const xs = rows.map((r) => Date.parse(r.time))
    const values = rows.map((r) => r.value)
    const flat = (v: number | null | undefined) => xs.map(() => (v === null || v === undefined ? null : v))
    const marks = (spc.violations as { time: string; rule: number }[]).map((v) => ({ index: xs.indexOf(Date.parse(v.time)), label: `rule ${v.rule}` })).filter((m) => m.index >= 0)
    const width = Math.max(320, Math.min(1200, root.clientWidth - 40))
    const unit = rows.find((r) => r.unit)?.unit ?? ''
    const iChart = h('div', { class: 'chart', id: 'i-chart', 'data-points': xs.length, 'data-marked': marks.length })
    const mrChart = h('div', { class: 'chart', id: 'mr-chart' })
    root.replaceChildren(
      head,
      h('p', { id: 'window' }, `${fmtTime(startMs, tz, true)} – ${fmtTime(endMs, tz, true)} (${tz}); ${spc.chart}${spc.truncated ? ', newest 10,000 points' : ''}`),
      h(
        'div',
        { class: 'kpis', id: 'capability' },
        (['n', 'mean', 'sigmaWithin', 'cp', 'cpk', 'pp', 'ppk'] as const).map((k) => h('div', { class: 'kpi' }, h('span', {}, k), h('b', { 'data-kpi': k }, fmtNum(spc[k], 4)))),
      ),
      spc.n < 2 ? note(`Only ${spc.n} measurement(s) of ${characteristic} in this window: limits need at least two.`) : '',
      iChart,
      mrChart,
      h('h2', {}, 'Western Electric violations'),
      spc.violations.length === 0
        ? note('No rule broken in this window.')
        : table(['rule', 'time', 'value', 'side', 'machine'], spc.violations.map((v: { rule: number; time: string; value: number; side: string; machine: string | null }) => [v.rule, fmtTime(v.time, tz, true), fmtNum(v.value, 4), v.side, v.machine ?? '']), { id: 'violations' }),
      h('p', { class: 'note' }, 'Rules: 1 one point beyond 3σ; 2 two of three beyond 2σ on one side; 3 four of five beyond 1σ on one side; 4 eight in a row on one side. The ringed point completes the pattern.'),
      h('h2', {}, 'Latest inspections'),
      table(['time', 'machine', 'value', 'pass', 'defect', 'lot'], points.inspections.slice(0, 20).map((i) => [fmtTime(i.time, tz, true), `${i.line}/${i.machine}`, `${fmtNum(i.value, 4)}${i.unit ? ` ${i.unit}` : ''}`, i.pass === null ? '—' : i.pass ? 'yes' : 'NO', i.defectCode ?? '', i.lot ?? '']), { id: 'inspections' }),
    )
    if (xs.length === 0) return
    timeChart(iChart, {
      title: `${characteristic}${unit ? ` (${unit})` : ''}: individuals`,
      xsMs: xs,
      timeZone: tz,
      width,
      marks,
      series: [
        { label: characteristic, values, points: true },
        { label: 'CL', values: flat(spc.centerLine), colour: '#2ca02c', dash: [4, 4] },
        { label: 'UCL', values: flat(spc.ucl), colour: '#d62728', dash: [6, 3] },
        { label: 'LCL', values: flat(spc.lcl), colour: '#d62728', dash: [6, 3] },
        { label: 'USL', values: flat(spc.spec?.usl), colour: '#000', dash: [2, 2] },
        { label: 'LSL', values: flat(spc.spec?.lsl), colour: '#000', dash: [2, 2] },
      ],
    })
    const mr = values.map((v, i) => (i === 0 ? null : Math.abs(v - values[i - 1]!)))
    timeChart(mrChart, {
      title: 'moving range',
      xsMs: xs,
      timeZone: tz,
      width,
      height: 180,
      series: [
        { label: 'MR', values: mr, points: true },
        { label: 'MR̄', values: flat(spc.mrBar), colour: '#2ca02c', dash: [4, 4] },
        { label: 'UCL', values: flat(spc.mrUcl), colour: '#d62728', dash: [6, 3] },
      ],
    })
  }
  load().catch((err) => root.append(errorBox(err)))
  return () => {}
}
