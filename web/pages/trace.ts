// Trace page: a lot's genealogy (docs/materials.md): back to the lots it was made from, or forward to the lots it went into, with machines, quantities and quality.
import { get } from '../api.js'
import { chosenFactory, type Page } from '../context.js'
import { errorBox, fmtPct, fmtTime, h, note } from '../dom.js'

interface TraceNode {
  lot: string
  material: string | null
  origins: { movement: string; line: string; machine: string; workOrder: string | null; quantity: number; unit: string; start: string; end: string }[]
  link: { line: string; machine: string; workOrder: string; quantity: number; unit: string; start: string; end: string } | null
  cycle: boolean
  quality: { inspections: number; passed: number; failed: number; passRate: number | null; defects: { code: string; count: number }[] }
  children: TraceNode[]
}

interface Trace {
  found: boolean
  lots: number
  cycles: string[][]
  truncated: boolean
  tree: TraceNode
}

export const tracePage: Page = (root, params, ctx) => {
  const factory = chosenFactory(ctx, params)
  const tz = factory?.timezone ?? 'UTC'
  const direction = params.direction === 'forward' ? 'forward' : 'back'
  const lotInput = h('input', { id: 'lot', name: 'lot', value: params.lot ?? '', placeholder: 'lot id', required: true, size: 28 })
  const dirSelect = h('select', { id: 'direction' }, [h('option', { value: 'back', selected: direction === 'back' }, 'back: made from'), h('option', { value: 'forward', selected: direction === 'forward' }, 'forward: went into')])
  const depthInput = h('input', { id: 'depth', type: 'number', min: 1, max: 20, value: params.depth ?? '5', size: 3 })
  const form = h('form', { class: 'page-head', id: 'trace-form' }, h('h1', {}, 'Lot trace'), lotInput, dirSelect, depthInput, h('button', { type: 'submit' }, 'Trace'))
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    ctx.navigate('trace', { factory: factory?.id, lot: lotInput.value.trim(), direction: dirSelect.value, depth: depthInput.value })
  })
  root.replaceChildren(form, note('Type a lot id: supplier lots trace forward to the finished lots that contain them, finished lots back to their materials.'))
  if (!params.lot) return () => {}

  const span = (s: { start: string; end: string }) => (s.start === s.end ? fmtTime(s.start, tz, true) : `${fmtTime(s.start, tz, true)} – ${fmtTime(s.end, tz, true)}`)
  const item = (n: TraceNode): HTMLElement => {
    const q = n.quality
    const bad = q.failed > 0
    const origin = n.origins.map((o) => `${o.movement} ${o.quantity} ${o.unit} on ${o.line}/${o.machine}${o.workOrder ? ` (${o.workOrder})` : ''}, ${span(o)}`).join('; ')
    const link = n.link ? `${n.link.quantity} ${n.link.unit} consumed on ${n.link.line}/${n.link.machine} (${n.link.workOrder}), ${span(n.link)}` : ''
    return h(
      'li',
      { 'data-lot': n.lot, class: n.cycle ? 'cycle' : bad ? 'failed' : undefined },
      h('b', {}, n.lot),
      n.material ? ` · ${n.material}` : '',
      n.cycle ? h('span', { class: 'error' }, ' ↺ cycle: already on this path') : '',
      link ? h('div', { class: 'link' }, link) : '',
      origin ? h('div', { class: 'origin' }, origin) : '',
      q.inspections > 0 ? h('div', { class: bad ? 'error' : 'quality' }, `${q.inspections} inspection(s): ${q.passed} passed, ${q.failed} failed (${fmtPct(q.passRate)})${q.defects.length ? ` · ${q.defects.map((d) => `${d.code} ×${d.count}`).join(', ')}` : ''}`) : '',
      n.children.length > 0 ? h('ul', {}, n.children.map(item)) : '',
    )
  }

  let stopped = false
  void (async () => {
    try {
      const t = await get<Trace>(`/materials/lots/${encodeURIComponent(params.lot!)}/trace`, { factory: factory?.id, direction, depth: params.depth ?? '5' })
      if (stopped) return
      root.replaceChildren(
        form,
        t.found ? '' : note(`Lot ${params.lot} has no movement in the last 30 days${factory ? ` in ${factory.id}` : ''}.`),
        t.cycles.length > 0 ? h('p', { class: 'error', role: 'alert', id: 'cycles' }, `The data holds ${t.cycles.length} cycle(s): ${t.cycles.map((c) => c.join(' → ')).join('; ')}`) : '',
        t.truncated ? note('The trace reached a bound (lots or movements read) and is incomplete.') : '',
        h('ul', { class: 'trace', id: 'trace', 'data-lots': t.lots }, item(t.tree)),
      )
    } catch (err) {
      if (!stopped) root.replaceChildren(form, errorBox(err))
    }
  })()
  return () => {
    stopped = true
  }
}
