// Choosers shared by the pages.
import type { Ctx } from './context.js'
import { h } from './dom.js'

/** A factory chooser that keeps the page and its other parameters. */
export function factorySelect(ctx: Ctx, current: string, params: Record<string, string>, page = location.hash.replace(/^#\/?/, '').split('?')[0] || 'floor'): HTMLSelectElement {
  const all = ctx.hierarchy.zones.flatMap((z) => z.factories.map((f) => ({ id: f.id, name: f.name, zone: z.name ?? z.id })))
  return h(
    'select',
    { id: 'factory', onchange: (e) => ctx.navigate(page, { ...params, factory: (e.target as HTMLSelectElement).value, line: undefined, machine: undefined }) },
    all.map((f) => h('option', { value: f.id, selected: f.id === current }, `${f.zone} · ${f.name ?? f.id}`)),
  )
}
