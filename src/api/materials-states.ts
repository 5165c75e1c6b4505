import type { LotLink, TraceNode } from '../domain/genealogy.js'
import { orderKey } from '../domain/material-movements.js'
import type { StateInterval } from '../domain/state-timeline.js'
import type { ApiDeps } from './api-deps.js'
import { timelines } from './history.js'

/** A work order's span on its machine: from its first consumption in the trace (or first production) to its last production. */
interface OrderSpan {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  startMs: number
  endMs: number
}

/**
 * What the machines were doing while the trace's lots were made: for every
 * work order that produced a lot in the tree, the machine's state intervals
 * over that work order's span (docs/materials.md), keyed by `orderKey`. One
 * state read per machine.
 */
export async function workOrderStates(deps: ApiDeps, root: TraceNode): Promise<Map<string, StateInterval[]>> {
  const spans = new Map<string, OrderSpan>()
  const links: LotLink[] = []
  const walk = (n: TraceNode) => {
    if (n.via) links.push(n.via)
    for (const o of n.origins) {
      if (o.movement !== 'produced') continue
      const k = orderKey(o)
      const s = spans.get(k) ?? { zone: o.zone, factory: o.factory, line: o.line, machine: o.machine, startMs: o.firstMs, endMs: o.lastMs }
      s.startMs = Math.min(s.startMs, o.firstMs)
      s.endMs = Math.max(s.endMs, o.lastMs)
      spans.set(k, s)
    }
    n.children.forEach(walk)
  }
  walk(root)
  for (const l of links) {
    const s = spans.get(orderKey(l))
    if (s) s.startMs = Math.min(s.startMs, l.firstMs)
  }
  const byMachine = new Map<string, OrderSpan[]>()
  for (const s of spans.values()) {
    const k = orderKey({ ...s, workOrder: null })
    byMachine.set(k, [...(byMachine.get(k) ?? []), s])
  }
  const out = new Map<string, StateInterval[]>()
  await Promise.all(
    [...byMachine.values()].map(async (list) => {
      const m = list[0]!
      const startMs = Math.min(...list.map((s) => s.startMs))
      const endMs = Math.max(...list.map((s) => s.endMs)) + 1
      const machine = { zone: m.zone, factory: m.factory, line: m.line, machine: m.machine, idealCycleTimeS: 0 }
      const timeline = (await timelines(deps, machine, [machine], startMs, endMs)).values().next().value ?? []
      for (const [k, s] of spans) {
        if (!list.includes(s)) continue
        out.set(k, clip(timeline, s.startMs, Math.max(s.endMs, s.startMs + 1)))
      }
    }),
  )
  return out
}

function clip(intervals: readonly StateInterval[], startMs: number, endMs: number): StateInterval[] {
  const out: StateInterval[] = []
  for (const i of intervals) {
    const a = Math.max(i.startMs, startMs)
    const b = Math.min(i.endMs, endMs)
    if (b > a) out.push({ ...i, startMs: a, endMs: b, durationMs: b - a })
  }
  return out
}
