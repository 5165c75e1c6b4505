import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileTop {
  readonly file: string
  readonly totalMs: number
  /** Functions by self time (where the CPU actually was), highest first. */
  readonly top: { fn: string; at: string; selfMs: number; selfPct: number }[]
  /** Self time (% of the profile) by package or area (node_modules/<pkg>, src/<dir>, node internals, GC, idle): the 15 largest. */
  readonly byArea: Record<string, number>
}

/** The newest .cpuprofile in `dir` written after `sinceMs`, summarised. */
export async function summariseNewestProfile(dir: string, sinceMs: number, root: string, topN = 15): Promise<ProfileTop | undefined> {
  let newest: { path: string; mtime: number } | undefined
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.cpuprofile')) continue
    const path = join(dir, name)
    const mtime = (await stat(path)).mtimeMs
    if (mtime >= sinceMs && (!newest || mtime > newest.mtime)) newest = { path, mtime }
  }
  if (!newest) return undefined
  return summariseProfile(newest.path, root, topN)
}

export async function summariseProfile(path: string, root: string, topN = 15): Promise<ProfileTop> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let totalUs = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt)
    totalUs += dt
  })
  const byFn = new Map<string, { fn: string; at: string; us: number }>()
  const byArea: Record<string, number> = {}
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame
    const file = f.url.replace(/^file:\/\//, '')
    const at = file ? `${file.startsWith(root) ? relative(root, file) : file}:${f.lineNumber + 1}` : ''
    const key = `${f.functionName}@${at}`
    const e = byFn.get(key) ?? { fn: f.functionName || '(anonymous)', at, us: 0 }
    e.us += us
    byFn.set(key, e)
    const area = areaOf(f.functionName, file, root)
    byArea[area] = (byArea[area] ?? 0) + us
  }
  const ms = (us: number) => Math.round(us / 100) / 10
  const top = [...byFn.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ fn: e.fn, at: e.at, selfMs: ms(e.us), selfPct: Math.round((e.us / totalUs) * 1000) / 10 }))
  const areas = Object.fromEntries(
    Object.entries(byArea)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 15)
      .map(([k, v]) => [k, Math.round((v / totalUs) * 1000) / 10])
      .filter(([, pct]) => (pct as number) >= 0.1),
  )
  return { file: path, totalMs: ms(totalUs), top, byArea: areas }
}

function areaOf(fn: string, file: string, root: string): string {
  if (!file) return fn.startsWith('(') ? fn : '(native)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)
  if (nm) return nm[1]!
  if (file.startsWith('node:')) return 'node internals'
  if (file.startsWith(root)) {
    const rel = relative(root, file).replace(/^dist\//, '')
    const parts = rel.split('/')
    return parts.slice(0, Math.min(2, parts.length - 1)).join('/') || rel
  }
  return file
}
