import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { LinkSummary } from '../../storage/ports.js'
import type { ApiDeps } from '../api-deps.js'
import { isoTime, zoneReport } from '../answer-schemas.js'
import { apiKeyOf } from '../auth.js'
import { sendCsv } from '../openapi.js'
import { reportQuery, reportWindow } from '../params.js'
import { resolveScope } from '../scope.js'

/** Radio access classes of the report: wired covers ethernet and fibre. */
export const ACCESS_CLASS: Record<string, string> = { '5g-sa': '5g-sa', '5g-nsa': '5g-nsa', lte: 'lte', wifi: 'wifi', ethernet: 'wired', fibre: 'wired' }
export const CLASSES = ['5g-sa', '5g-nsa', 'lte', 'wifi', 'wired'] as const
const METRICS = ['rsrp_dbm', 'rsrq_db', 'sinr_db', 'rtt_ms', 'uplink_mbps', 'downlink_mbps'] as const


export const connectivityRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/connectivity/report',
    {
      schema: {
        tags: ['connectivity'],
        summary: 'The park operator\'s connectivity report: factories and gateways by radio access, link-quality percentiles',
        description:
          'Per zone and window (a calendar year in UTC with `year`, or `start`/`end`): registered and reporting factories, gateways that reported, factories and gateways by radio access (5G SA, 5G NSA, LTE, Wi-Fi, wired = ethernet + fibre; a factory counts under every access its gateways used), percentiles (p5/p50/p95) of RSRP, RSRQ, SINR, RTT and throughput per gateway link, and `no5g: true` for zones where no factory reported over 5G. `format=csv` gives one row per gateway link.',
        security: [{ bearerAuth: [] }],
        querystring: z.object(reportQuery),
        'x-media': { 'text/csv': 'with format=csv: one row per gateway link (zone, factory, gateway, access, reports, then p5, p50 and p95 of each metric)' },
        response: {
          200: z.object({
            start: isoTime,
            end: isoTime,
            zones: z.array(
              zoneReport.extend({
                factoriesReporting: z.number(),
                gatewaysReporting: z.number(),
                byAccess: z.record(z.string(), z.object({ factories: z.number(), gateways: z.number() })).describe('per access class: 5g-sa, 5g-nsa, lte, wifi, wired'),
              }),
            ),
            zonesWithout5g: z.array(z.string()),
          }),
        },
      },
    },
    async (request, reply) => {
      const q = request.query
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), q)
      const window = reportWindow(q, deps.config.maxWindowMs)
      const zones = registry.zones.filter((z) => scope.zone === undefined || z.id === scope.zone)
      const links = await deps.manufacturing.connectivity(zones.map((z) => z.id), scope.factory, window.startMs, window.endMs)
      if (q.format === 'csv') {
        return sendCsv(reply, `connectivity-${new Date(window.startMs).toISOString().slice(0, 10)}.csv`, toCsv(links))
      }
      const report = zones.map((zone) => {
        const zoneLinks = links.filter((l) => l.zone === zone.id)
        const registered = zone.factories.filter((f) => scope.factory === undefined || f.id === scope.factory)
        const byAccess = Object.fromEntries(
          CLASSES.map((c) => {
            const ls = zoneLinks.filter((l) => ACCESS_CLASS[l.access] === c)
            return [c, { factories: new Set(ls.map((l) => l.factory)).size, gateways: new Set(ls.map((l) => l.gateway)).size }]
          }),
        )
        const fiveG = zoneLinks.filter((l) => l.access === '5g-sa' || l.access === '5g-nsa')
        return {
          zone: zone.id,
          name: zone.name ?? null,
          factoriesRegistered: registered.length,
          factoriesReporting: new Set(zoneLinks.map((l) => l.factory)).size,
          gatewaysReporting: new Set(zoneLinks.map((l) => l.gateway)).size,
          factoriesOn5g: new Set(fiveG.map((l) => l.factory)).size,
          no5g: fiveG.length === 0,
          byAccess,
          links: zoneLinks.map((l) => ({ factory: l.factory, gateway: l.gateway, access: l.access, reports: l.reports, metrics: l.metrics })),
        }
      })
      return {
        start: new Date(window.startMs).toISOString(),
        end: new Date(window.endMs).toISOString(),
        zones: report,
        zonesWithout5g: report.filter((r) => r.no5g).map((r) => r.zone),
      }
    },
  )
}

function toCsv(links: readonly LinkSummary[]): string {
  const header = ['zone', 'factory', 'gateway', 'access', 'reports', ...METRICS.flatMap((m) => [`${m}_p5`, `${m}_p50`, `${m}_p95`])]
  const rows = links.map((l) => [l.zone, l.factory, l.gateway, l.access, String(l.reports), ...METRICS.flatMap((m) => ['p5', 'p50', 'p95'].map((p) => String(l.metrics[m]?.[p as 'p5'] ?? '')))])
  // Ids are slugs and numbers are numbers: nothing here needs CSV quoting.
  return [header, ...rows].map((r) => r.join(',')).join('\n') + '\n'
}

