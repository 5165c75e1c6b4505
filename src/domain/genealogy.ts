/**
 * Lot genealogy (docs/materials.md): which lots went into which, as a tree
 * from one lot, backward (its inputs) or forward (what it went into). Pure:
 * the movements are fetched elsewhere and handed in as origins and links.
 */
export type TraceDirection = 'back' | 'forward'

export interface MachineRef {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
}

/** Where a lot came from: made by a work order on a machine, or received at one. */
export interface LotOrigin extends MachineRef {
  readonly lot: string
  readonly movement: 'produced' | 'received'
  readonly material: string
  readonly workOrder: string | null
  readonly quantity: number
  readonly unit: string
  readonly firstMs: number
  readonly lastMs: number
}

/** `input` consumed by a work order on a machine that produced `output`. */
export interface LotLink extends MachineRef {
  readonly input: string
  readonly output: string
  readonly material: string
  readonly workOrder: string
  /** Quantity of `input` consumed by that work order on that machine, and when. */
  readonly quantity: number
  readonly unit: string
  readonly firstMs: number
  readonly lastMs: number
}

export interface TraceNode {
  readonly lot: string
  readonly origins: readonly LotOrigin[]
  /** The link to the parent node (the consumption that joins them); null at the root. */
  readonly via: LotLink | null
  /** True when this lot is already on the path from the root: bad data; not expanded. */
  readonly cycle: boolean
  readonly children: TraceNode[]
}

export interface TraceTree {
  readonly root: TraceNode
  /** Each cycle once, as the lots along it, first lot repeated at the end. */
  readonly cycles: readonly (readonly string[])[]
  readonly nodes: number
  /** True when `maxNodes` stopped the expansion. */
  readonly truncated: boolean
}

/** The lot on the far side of a link, seen from `direction`. */
export const nextLot = (link: LotLink, direction: TraceDirection): string => (direction === 'back' ? link.input : link.output)
const nearLot = (link: LotLink, direction: TraceDirection): string => (direction === 'back' ? link.output : link.input)

/**
 * The tree from `root`, `depth` links deep. A lot met again on its own path
 * is a cycle: reported once in `cycles` and shown as a leaf with `cycle: true`,
 * never followed. A lot reached by two paths (a diamond) appears under both.
 */
export function buildTrace(input: {
  root: string
  direction: TraceDirection
  depth: number
  origins: ReadonlyMap<string, readonly LotOrigin[]>
  links: readonly LotLink[]
  maxNodes: number
}): TraceTree {
  const { direction, origins } = input
  const byNear = new Map<string, LotLink[]>()
  for (const link of dedupeLinks(input.links)) {
    const k = nearLot(link, direction)
    let list = byNear.get(k)
    if (!list) byNear.set(k, (list = []))
    list.push(link)
  }
  for (const list of byNear.values()) list.sort((a, b) => a.firstMs - b.firstMs || nextLot(a, direction).localeCompare(nextLot(b, direction)))

  const cycles = new Map<string, string[]>()
  let nodes = 0
  let truncated = false
  const path: string[] = []
  const onPath = new Set<string>()

  const visit = (lot: string, via: LotLink | null, level: number): TraceNode => {
    nodes++
    if (onPath.has(lot)) {
      const loop = [...path.slice(path.indexOf(lot)), lot]
      cycles.set(canonicalCycle(loop), loop)
      return { lot, origins: origins.get(lot) ?? [], via, cycle: true, children: [] }
    }
    const node: TraceNode = { lot, origins: origins.get(lot) ?? [], via, cycle: false, children: [] }
    if (level >= input.depth) return node
    path.push(lot)
    onPath.add(lot)
    for (const link of byNear.get(lot) ?? []) {
      if (nodes >= input.maxNodes) {
        truncated = true
        break
      }
      node.children.push(visit(nextLot(link, direction), link, level + 1))
    }
    path.pop()
    onPath.delete(lot)
    return node
  }

  const root = visit(input.root, null, 0)
  return { root, cycles: [...cycles.values()], nodes, truncated }
}

/** One link per (input, output, machine, work order): the same pair found twice is one consumption. */
function dedupeLinks(links: readonly LotLink[]): LotLink[] {
  const seen = new Map<string, LotLink>()
  for (const l of links) seen.set(JSON.stringify([l.input, l.output, l.zone, l.factory, l.line, l.machine, l.workOrder]), l)
  return [...seen.values()]
}

/** A cycle's key whatever lot it was entered at: rotated to start at its smallest lot. */
function canonicalCycle(loop: readonly string[]): string {
  const ring = loop.slice(0, -1)
  let start = 0
  for (let i = 1; i < ring.length; i++) if (ring[i]! < ring[start]!) start = i
  return JSON.stringify([...ring.slice(start), ...ring.slice(0, start)])
}

/** Every lot in a tree, root first. */
export function lotsOf(tree: TraceNode): string[] {
  const out = new Set<string>()
  const walk = (n: TraceNode) => {
    out.add(n.lot)
    n.children.forEach(walk)
  }
  walk(tree)
  return [...out]
}
