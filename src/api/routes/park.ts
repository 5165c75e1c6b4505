import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Scope } from '../../storage/ports.js'
import type { ApiDeps } from '../api-deps.js'
import { isoTime, zoneReport } from '../answer-schemas.js'
import { apiKeyOf } from '../auth.js'
import { sendCsv } from '../openapi.js'
import { isoOf } from '../history.js'
import { reportQuery, reportWindow } from '../params.js'
import { resolveScope } from '../scope.js'
import { ACCESS_CLASS, CLASSES } from './connectivity.js'

/** The plan's targets the yearly report measures against (docs/api.md, "Park overview"). */
export const PLAN_TARGETS = { minPilots: 2, every5gZone: true } as const

const FIVE_G = new Set(['5g-sa', '5g-nsa'])

const counts = z.object({ good: z.number(), reject: z.number(), total: z.number() })
const target = z.object({ target: z.number(), measured: z.number(), met: z.boolean() })
const overview = z.object({
  start: isoTime,
  end: isoTime,
  zones: z.array(
    zoneReport.extend({
      factoriesConnected: z.number(),
      gatewaysConnected: z.number(),
      byAccess: z.record(z.string(), z.number()).describe('factories per access class: 5g-sa, 5g-nsa, lte, wifi, wired'),
      pilots: z.array(z.string()),
      production: counts,
      factories: z.array(
        z.object({
          factory: z.string(),
          name: z.string().nullable(),
          gateways: z.array(z.string()),
          access: z.array(z.string()),
          connected: z.boolean(),
          on5g: z.boolean(),
          publishesState: z.boolean(),
          publishesProduction: z.boolean(),
          pilot: z.boolean(),
          production: counts,
        }),
      ),
    }),
  ),
  zonesWithout5g: z.array(z.string()),
  targets: z.object({ zonesWith5g: target, pilots: target }),
})

export const parkRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/park/overview',
    {
      schema: {
        tags: ['connectivity'],
        summary: 'The park overview behind the yearly rollout report: per zone, factories connected and by radio access, live pilots, production; the plan\'s targets beside the measured figures',
        description:
          'Over a calendar year (UTC) with `year`, or `start`/`end` (default: the last 30 days). Per factory: the gateways that sent link reports and their radio access classes (as the connectivity report counts them), whether it is a live pilot (it stored at least one state report and one production report in the window), and its good/reject/total counts. Per zone: the same rolled up, and `no5g`. Targets: every zone with at least one factory connected over 5G, and at least two pilots. `format=csv` gives one row per factory.',
        security: [{ bearerAuth: [] }],
        querystring: z.object(reportQuery),
        'x-media': { 'text/csv': 'with format=csv: one row per factory (zone, factory, gateways, access, on_5g, publishes_state, publishes_production, pilot, good, reject, total)' },
        response: { 200: overview },
      },
    },
    async (request, reply) => {
      const q = request.query
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), q)
      const window = reportWindow(q, deps.config.maxWindowMs)
      const zones = registry.zones.filter((z) => scope.zone === undefined || z.id === scope.zone)
      const factories = zones.flatMap((z) => z.factories.filter((f) => scope.factory === undefined || f.id === scope.factory).map((f) => ({ zone: z.id, factory: f.id, name: f.name ?? null })))
      const [links, counts, flags] = await Promise.all([
        deps.manufacturing.connectivity(zones.map((z) => z.id), scope.factory, window.startMs, window.endMs),
        deps.manufacturing.countsInWindows(scope, [window]),
        // One point of each kind is enough to say a factory publishes it: a limit-1 read per factory and kind.
        Promise.all(
          factories.map(async (f) => {
            const s: Scope = { zone: f.zone, factory: f.factory }
            const has = async (kind: 'state' | 'production') => (await deps.records.records({ kind, scope: s, startMs: window.startMs, endMs: window.endMs, limit: 1, order: 'desc' })).length > 0
            const [state, production] = await Promise.all([has('state'), has('production')])
            return { state, production }
          }),
        ),
      ])
      const perFactory = factories.map((f, i) => {
        const ls = links.filter((l) => l.zone === f.zone && l.factory === f.factory)
        let good = 0
        let reject = 0
        for (const [key, c] of counts) {
          if (!key.startsWith(`${f.zone}/${f.factory}/`)) continue
          good += c[0]?.good ?? 0
          reject += c[0]?.reject ?? 0
        }
        const access = CLASSES.filter((c) => ls.some((l) => ACCESS_CLASS[l.access] === c))
        return {
          ...f,
          gateways: [...new Set(ls.map((l) => l.gateway))].sort(),
          access,
          connected: ls.length > 0,
          on5g: ls.some((l) => FIVE_G.has(l.access)),
          publishesState: flags[i]!.state,
          publishesProduction: flags[i]!.production,
          pilot: flags[i]!.state && flags[i]!.production,
          production: { good, reject, total: good + reject },
        }
      })
      if (q.format === 'csv') {
        return sendCsv(reply, `park-overview-${q.year ?? isoOf(window.startMs).slice(0, 10)}.csv`, toCsv(perFactory))
      }
      const report = zones.map((zone) => {
        const fs = perFactory.filter((f) => f.zone === zone.id)
        const zoneLinks = links.filter((l) => l.zone === zone.id)
        return {
          zone: zone.id,
          name: zone.name ?? null,
          factoriesRegistered: fs.length,
          factoriesConnected: fs.filter((f) => f.connected).length,
          gatewaysConnected: new Set(zoneLinks.map((l) => l.gateway)).size,
          factoriesOn5g: fs.filter((f) => f.on5g).length,
          no5g: !fs.some((f) => f.on5g),
          byAccess: Object.fromEntries(CLASSES.map((c) => [c, fs.filter((f) => f.access.includes(c)).length])),
          pilots: fs.filter((f) => f.pilot).map((f) => f.factory),
          production: { good: sum(fs, (f) => f.production.good), reject: sum(fs, (f) => f.production.reject), total: sum(fs, (f) => f.production.total) },
          factories: fs.map(({ zone: _z, ...f }) => f),
          links: zoneLinks.map((l) => ({ factory: l.factory, gateway: l.gateway, access: l.access, reports: l.reports, metrics: l.metrics })),
        }
      })
      const pilots = perFactory.filter((f) => f.pilot).length
      const zonesWith5g = report.filter((z) => !z.no5g).length
      return {
        start: isoOf(window.startMs),
        end: isoOf(window.endMs),
        zones: report,
        zonesWithout5g: report.filter((z) => z.no5g).map((z) => z.zone),
        targets: {
          zonesWith5g: { target: report.length, measured: zonesWith5g, met: zonesWith5g === report.length },
          pilots: { target: PLAN_TARGETS.minPilots, measured: pilots, met: pilots >= PLAN_TARGETS.minPilots },
        },
      }
    },
  )
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0)

function toCsv(rows: readonly { zone: string; factory: string; gateways: string[]; access: readonly string[]; on5g: boolean; publishesState: boolean; publishesProduction: boolean; pilot: boolean; production: { good: number; reject: number; total: number } }[]): string {
  const header = ['zone', 'factory', 'gateways', 'access', 'on_5g', 'publishes_state', 'publishes_production', 'pilot', 'good', 'reject', 'total']
  // Ids are slugs; lists are joined with ";" so no field needs CSV quoting.
  const lines = rows.map((r) => [r.zone, r.factory, r.gateways.join(';'), r.access.join(';'), r.on5g, r.publishesState, r.publishesProduction, r.pilot, r.production.good, r.production.reject, r.production.total].join(','))
  return [header.join(','), ...lines].join('\n') + '\n'
}
