import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { birthSignals } from './signal-names.js'

/** One metric as a birth defined it (Sparkplug 3.0, 6.4.10): what NDATA/DDATA resolve aliases against. */
export interface MetricDef {
  readonly name: string
  /** The alias as a decimal string (uint64), when the birth gave one. */
  readonly alias: string | undefined
  readonly datatype: number
  /** Flat properties (engineering units and the like): key -> value. */
  readonly properties: Readonly<Record<string, string | number | boolean>>
}

/** The metric definitions of one birth, with lookups. */
export interface BirthDefs {
  readonly metrics: readonly MetricDef[]
  readonly byName: ReadonlyMap<string, MetricDef>
  readonly byAlias: ReadonlyMap<string, MetricDef>
  /** Metric name -> its telemetry signal, distinct within the birth (signal-names.ts). */
  readonly signals: ReadonlyMap<string, string>
}

export interface NodeBirth {
  /** The NBIRTH's bdSeq (decimal): an NDEATH with another one is from an older session. */
  readonly bdSeq: string
  readonly node: BirthDefs
  /** device_id -> its last DBIRTH; cleared by every NBIRTH. */
  readonly devices: Map<string, BirthDefs>
}

interface FileShape {
  readonly version: 1
  readonly nodes: Record<string, { bdSeq: string; node: MetricDef[]; devices: Record<string, MetricDef[]> }>
}

export function birthDefs(metrics: readonly MetricDef[]): BirthDefs {
  const byName = new Map<string, MetricDef>()
  const byAlias = new Map<string, MetricDef>()
  for (const m of metrics) {
    byName.set(m.name, m)
    if (m.alias !== undefined) byAlias.set(m.alias, m)
  }
  return { metrics, byName, byAlias, signals: birthSignals(byName.keys()) }
}

/**
 * The last births of every edge node, kept in memory and in one file (docs/sparkplug.md) so that
 * data after a restart of the service still resolves its aliases. `flush` writes the changes
 * durably (a temporary file, fsync, rename, fsync of the directory: the journal's standard,
 * docs/delivery.md); the processor flushes once per batch, before the journal's checkpoint may
 * pass the births, so a reconnect storm of a thousand edge nodes rewrites the file once per
 * batch, not once per birth.
 */
export class BirthStore {
  private readonly nodes = new Map<string, NodeBirth>()
  private dirty = false

  private constructor(private readonly file: string | undefined) {}

  /** Opens the store at `file` (undefined: memory only). A missing file is an empty store. */
  static open(file: string | undefined): BirthStore {
    const store = new BirthStore(file)
    if (!file) return store
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return store
      throw err
    }
    const parsed = JSON.parse(text) as FileShape
    for (const [key, n] of Object.entries(parsed.nodes ?? {})) {
      store.nodes.set(key, { bdSeq: n.bdSeq, node: birthDefs(n.node), devices: new Map(Object.entries(n.devices).map(([d, defs]) => [d, birthDefs(defs)])) })
    }
    return store
  }

  get(nodeKey: string): NodeBirth | undefined {
    return this.nodes.get(nodeKey)
  }

  /** An NBIRTH: the node's definitions replaced, its devices' forgotten (they must be born again). */
  setNode(nodeKey: string, bdSeq: string, metrics: readonly MetricDef[]): void {
    this.nodes.set(nodeKey, { bdSeq, node: birthDefs(metrics), devices: new Map() })
    this.dirty = true
  }

  setDevice(nodeKey: string, device: string, metrics: readonly MetricDef[]): void {
    const n = this.nodes.get(nodeKey)
    if (!n) return
    n.devices.set(device, birthDefs(metrics))
    this.dirty = true
  }

  /** Births changed since the last successful flush. */
  get unflushed(): boolean {
    return this.dirty
  }

  /** Writes the births durably if they changed; throws when it cannot (they stay unflushed). */
  flush(): void {
    if (!this.dirty) return
    if (!this.file) {
      this.dirty = false
      return
    }
    const shape: FileShape = {
      version: 1,
      nodes: Object.fromEntries([...this.nodes].map(([k, n]) => [k, { bdSeq: n.bdSeq, node: [...n.node.metrics], devices: Object.fromEntries([...n.devices].map(([d, defs]) => [d, [...defs.metrics]])) }])),
    }
    const tmp = `${this.file}.tmp`
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, JSON.stringify(shape))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.file)
    // The rename itself is durable only once the directory is.
    const dir = openSync(dirname(this.file), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
    this.dirty = false
  }
}
