// The yearly rollout report for the zones' management board: printable (print stylesheet) and as CSV.
import { get, getText } from '../api.js'
import type { Page } from '../context.js'
import { errorBox, h } from '../dom.js'
import { zoneSection, type ZoneOverview } from './park.js'

export const reportPage: Page = (root, params, ctx) => {
  const thisYear = new Date().getUTCFullYear()
  const year = Number(params.year ?? thisYear)
  const csvLink = h('button', { type: 'button', id: 'csv', class: 'no-print' }, 'Download CSV')
  csvLink.addEventListener('click', () => {
    // Fetched with the key, then saved: a plain link could not send the Authorization header.
    void getText('/park/overview', { year, format: 'csv' }).then((text) => {
      const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: `rollout-report-${year}.csv` })
      a.click()
      URL.revokeObjectURL(a.href)
    })
  })
  root.replaceChildren(
    h(
      'header',
      { class: 'page-head no-print' },
      h('h1', {}, 'Yearly rollout report'),
      h('select', { id: 'year', onchange: (e) => ctx.navigate('report', { year: (e.target as HTMLSelectElement).value }) }, Array.from({ length: 6 }, (_, i) => thisYear - i).map((y) => h('option', { value: y, selected: y === year }, String(y)))),
      h('button', { type: 'button', onclick: () => window.print() }, 'Print'),
      csvLink,
    ),
  )
  get('/park/overview', { year })
    .then((r) => {
      const t = r.targets
      const met = (ok: boolean) => h('span', { class: ok ? 'target-met' : 'target-missed' }, ok ? 'met' : 'not met')
      root.append(
        h(
          'article',
          { class: 'report', id: 'report', 'data-year': year },
          h('h1', {}, `Smart-factory rollout: report for ${year}`),
          h('p', {}, `Measured from the data the park's gateways sent between ${r.start.slice(0, 10)} and ${r.end.slice(0, 10)} (UTC, end excluded)${year === thisYear ? ', so far this year' : ''}. Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`),
          h('h2', {}, 'The plan beside the measure'),
          h(
            'table',
            { id: 'targets' },
            h('thead', {}, h('tr', {}, h('th', {}, 'target'), h('th', {}, 'plan'), h('th', {}, 'measured'), h('th', {}, ''))),
            h(
              'tbody',
              {},
              h('tr', { 'data-target': 'zonesWith5g' }, h('td', {}, 'Zones with at least one factory connected over 5G'), h('td', {}, `every zone (${t.zonesWith5g.target})`), h('td', { class: 'measured' }, String(t.zonesWith5g.measured)), h('td', {}, met(t.zonesWith5g.met))),
              h('tr', { 'data-target': 'pilots' }, h('td', {}, 'Smart-factory pilots live (publishing state and production)'), h('td', {}, `at least ${t.pilots.target}`), h('td', { class: 'measured' }, String(t.pilots.measured)), h('td', {}, met(t.pilots.met))),
            ),
          ),
          h('p', {}, `Zones without 5G: ${r.zonesWithout5g.length ? r.zonesWithout5g.join(', ') : 'none'}.`),
          ...r.zones.map((z: ZoneOverview) => zoneSection(z)),
          h('h2', {}, 'Definitions'),
          h('p', { class: 'definitions' }, 'A factory is connected when one of its gateways sent a link report in the year, and on 5G when one came over 5G SA or NSA; it counts under every radio access its gateways used (wired: ethernet and fibre). A live pilot stored at least one machine-state report and one production report in the year. Link quality: p5/p50/p95 per gateway link (nearest rank; empty with too few reports). Production: good and reject parts as reported. Every figure is the API\'s GET /api/v1/park/overview (docs/api.md).'),
        ),
      )
    })
    .catch((err) => root.append(errorBox(err)))
  return () => {}
}
