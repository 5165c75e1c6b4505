// Ingest health for operators: rates, journal backlog and its age, InfluxDB write errors, rejections.
import { ApiError, get } from '../api.js'
import type { Ctx, Page } from '../context.js'
import { errorBox, fmtNum, fmtTime, h, note, table } from '../dom.js'

const REFRESH_MS = 5000
type Counts = Record<string, number>
const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0)
const KINDS = ['telemetry', 'state', 'production', 'quality', 'connectivity', 'material']

/**
 * Messages by kind, each count under what it counts: `received` is iiot/v1 messages only, while
 * `accepted` adds every record a Sparkplug B message became, so accepted may exceed received and
 * a kind may have accepted records and nothing received. Rejections are counted by reason only.
 */
function byKind(received: Counts, accepted: Counts): HTMLElement {
  const kinds = [...new Set([...KINDS, ...Object.keys(received), ...Object.keys(accepted)])].filter((k) => (received[k] ?? 0) + (accepted[k] ?? 0) > 0)
  if (kinds.length === 0) return note('No message decoded yet.')
  return h(
    'div',
    {},
    table(['kind', 'received (iiot/v1 messages)', 'accepted (iiot/v1 messages + Sparkplug B records)'], kinds.map((k) => [k, String(received[k] ?? 0), String(accepted[k] ?? 0)]), { id: 'by-kind' }),
    note(
      'Received counts the iiot/v1 messages decoded whose topic names a kind, rejected ones included; Sparkplug B messages are not in it. ' +
        'Accepted counts the iiot/v1 messages accepted and the records Sparkplug B messages became (one message may make several), so it is not a share of received. ' +
        'Rejections are counted by reason, not by kind: below.',
    ),
  )
}

export const healthPage: Page = (root, params, ctx: Ctx) => {
  const tz = ctx.hierarchy.zones[0]?.factories[0]?.timezone ?? 'UTC'
  const body = h('div', { id: 'health' }, h('p', { class: 'note' }, 'loading…'))
  root.replaceChildren(h('header', { class: 'page-head' }, h('h1', {}, 'Ingest health'), h('span', { class: 'note' }, `refreshed every ${REFRESH_MS / 1000} s; rates over the last interval`)), body)
  let prev: { atMs: number; accepted: number; written: number } | undefined
  let stopped = false
  const refresh = async () => {
    let stats: { received: Counts; accepted: Counts; rejected: Counts; refused: Counts; points: { queued: number; written: number; dropped: Counts }; journal: { unwrittenRecords: number; unwrittenBytes: number; oldestUnwrittenAgeS: number | null; full: boolean }; writeErrors: Counts } | undefined
    try {
      stats = await get('/ingest/stats')
    } catch (err) {
      // A scoped key may not read service-wide figures (docs/api.md): its own rejections still show.
      if (!(err instanceof ApiError && err.status === 403)) throw err
    }
    const rejections = await get('/ingest/rejections', { limit: Number(params.limit ?? 20), reason: params.reason })
    const now = Date.now()
    const parts: (HTMLElement | string)[] = []
    if (stats) {
      const accepted = total(stats.accepted)
      const rate = (v: number, p: number | undefined) => (prev && p !== undefined ? fmtNum((v - p) / ((now - prev.atMs) / 1000), 1) : 'measuring')
      parts.push(
        h(
          'div',
          { class: 'kpis', id: 'rates' },
          [
            ['accepted/s', rate(accepted, prev?.accepted)],
            ['points/s written', rate(stats.points.written, prev?.written)],
            ['journal backlog', `${stats.journal.unwrittenRecords} records`],
            ['oldest unwritten', stats.journal.oldestUnwrittenAgeS === null ? 'none' : `${fmtNum(stats.journal.oldestUnwrittenAgeS, 1)} s`],
            ['InfluxDB write errors', String(total(stats.writeErrors))],
            ['rejected', String(total(stats.rejected))],
          ].map(([k, v]) => h('div', { class: 'kpi', 'data-kpi': k }, h('span', {}, k!), h('b', {}, v!))),
        ),
        stats.journal.full ? h('p', { class: 'error' }, 'The journal is full: gateways are being held back until InfluxDB catches up.') : '',
        h('h2', {}, 'Messages by kind'),
        byKind(stats.received, stats.accepted),
        h('h2', {}, 'Rejected by reason since start'),
        Object.keys(stats.rejected).length ? table(['reason', 'messages'], Object.entries(stats.rejected).sort((a, b) => b[1] - a[1]), { id: 'rejected-by-reason' }) : note('None.'),
        Object.keys(stats.refused).length ? table(['refused (operation:reason)', 'count'], Object.entries(stats.refused), { id: 'refused' }) : '',
        Object.keys(stats.writeErrors).length ? table(['InfluxDB write error', 'count'], Object.entries(stats.writeErrors).map(([k, v]) => [k, v]), { id: 'write-errors' }) : '',
      )
      prev = { atMs: now, accepted, written: stats.points.written }
    } else {
      parts.push(note('Service-wide figures need a key with scope "all"; below are the rejections this key may see.'))
    }
    const byReason = new Map<string, number>()
    for (const r of rejections.rejections) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1)
    parts.push(
      h('h2', {}, 'Rejections, newest first'),
      rejections.rejections.length === 0
        ? note('No message rejected: every message received so far decoded and passed its checks.')
        : h('div', {}, h('p', { id: 'reasons' }, `Of the ${rejections.rejections.length} listed: `, [...byReason].map(([r, n]) => `${r}: ${n}`).join(' · ')), table(['time', 'reason', 'gateway', 'topic', 'message'], rejections.rejections.map((r: { time: string; reason: string; gateway?: string; topic: string; message: string }) => [fmtTime(r.time, tz, true), r.reason, r.gateway ?? '', r.topic, r.message]), { id: 'rejections' })),
    )
    body.replaceChildren(...parts)
  }
  const loop = () => {
    if (stopped) return
    refresh()
      .catch((err) => body.replaceChildren(errorBox(err)))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, REFRESH_MS)
      })
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  loop()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}
