// Park overview: per zone, factories and gateways connected by radio access, link quality, zones without 5G, live pilots, production.
import { get } from '../api.js'
import type { Page } from '../context.js'
import { errorBox, fmtNum, h, note, table } from '../dom.js'

export const ACCESS_LABEL: Record<string, string> = { '5g-sa': '5G SA', '5g-nsa': '5G NSA', lte: 'LTE', wifi: 'Wi-Fi', wired: 'wired' }

export const parkPage: Page = (root, params, ctx) => {
  const days = Number(params.days ?? '30')
  root.replaceChildren(
    h('header', { class: 'page-head' }, h('h1', {}, 'Park overview'), h('select', { id: 'days', onchange: (e) => ctx.navigate('park', { days: (e.target as HTMLSelectElement).value }) }, ['1', '7', '30', '90'].map((d) => h('option', { value: d, selected: Number(d) === days }, `last ${d} days`))), h('a', { href: '#/report' }, 'yearly report')),
    note('loading…'),
  )
  const start = new Date(Date.now() - days * 86_400_000).toISOString()
  get('/park/overview', { start })
    .then((r) => {
      root.replaceChildren(
        root.firstChild!,
        h('p', {}, `Zones without 5G: ${r.zonesWithout5g.length ? r.zonesWithout5g.join(', ') : 'none'} · live pilots: ${r.targets.pilots.measured}`),
        ...r.zones.map((z: ZoneOverview) => zoneSection(z)),
      )
    })
    .catch((err) => root.append(errorBox(err)))
  return () => {}
}

export interface ZoneOverview {
  zone: string
  name: string | null
  factoriesRegistered: number
  factoriesConnected: number
  gatewaysConnected: number
  factoriesOn5g: number
  no5g: boolean
  byAccess: Record<string, number>
  pilots: string[]
  production: { good: number; reject: number; total: number }
  factories: { factory: string; name: string | null; gateways: string[]; access: string[]; connected: boolean; on5g: boolean; publishesState: boolean; publishesProduction: boolean; pilot: boolean; production: { good: number; reject: number; total: number } }[]
  links: { factory: string; gateway: string; access: string; reports: number; metrics: Record<string, { p5: number | null; p50: number | null; p95: number | null }> }[]
}

const yes = (b: boolean) => (b ? 'yes' : 'no')

export function zoneSection(z: ZoneOverview): HTMLElement {
  return h(
    'section',
    { class: 'zone', 'data-zone': z.zone },
    h('h2', {}, `${z.name ?? z.zone} (${z.zone})`, z.no5g ? h('span', { class: 'target-missed' }, ' · no 5G') : ''),
    h('p', {}, `${z.factoriesConnected} of ${z.factoriesRegistered} factories connected through ${z.gatewaysConnected} gateway(s); ${z.factoriesOn5g} on 5G; pilots: ${z.pilots.length ? z.pilots.join(', ') : 'none'}; production ${z.production.good} good, ${z.production.reject} reject.`),
    table(Object.values(ACCESS_LABEL), [Object.keys(ACCESS_LABEL).map((k) => z.byAccess[k] ?? 0)], { class: 'by-access' }),
    table(
      ['factory', 'gateways', 'access', 'state', 'production', 'pilot', 'good', 'reject'],
      z.factories.map((f) => [f.name ?? f.factory, f.gateways.join(', ') || '—', f.access.map((a) => ACCESS_LABEL[a] ?? a).join(', ') || 'not connected', yes(f.publishesState), yes(f.publishesProduction), h('b', {}, yes(f.pilot)), f.production.good, f.production.reject]),
      { class: 'factories' },
    ),
    z.links.length === 0
      ? note('No link report from this zone in the window: its gateways have not sent connectivity messages.')
      : table(
          ['factory', 'gateway', 'access', 'reports', 'RSRP p5/p50/p95 dBm', 'SINR p50 dB', 'RTT p50/p95 ms', 'down p50 Mbit/s'],
          z.links.map((l) => {
            const m = (k: string, p: 'p5' | 'p50' | 'p95') => fmtNum(l.metrics[k]?.[p] ?? null, 1)
            return [l.factory, l.gateway, ACCESS_LABEL[l.access] ?? l.access, l.reports, `${m('rsrp_dbm', 'p5')} / ${m('rsrp_dbm', 'p50')} / ${m('rsrp_dbm', 'p95')}`, m('sinr_db', 'p50'), `${m('rtt_ms', 'p50')} / ${m('rtt_ms', 'p95')}`, m('downlink_mbps', 'p50')]
          }),
          { class: 'links' },
        ),
  )
}
