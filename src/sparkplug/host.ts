import { Counter } from 'prom-client'
import type { Logger } from 'pino'
import type { LiveStateTable } from '../domain/live-state.js'
import { machineKey } from '../domain/machine-key.js'
import type { StateChange } from '../domain/records.js'
import type { GatewayTopic, MachineTopic } from '../domain/topic.js'
import type { Metrics } from '../metrics/metrics.js'
import { CounterTracker } from '../pipeline/counter-tracker.js'
import { MaterialTracker } from '../pipeline/material-tracker.js'
import type { IngestOutcome } from '../pipeline/pipeline.js'
import { toLines } from '../pipeline/to-lines.js'
import type { RejectionKeeper } from '../pipeline/rejection-keeper.js'
import type { Validate } from '../pipeline/validate.js'
import type { RegistrySource } from '../registry/registry-store.js'
import type { SparkplugNodeEntry } from '../registry/sparkplug-nodes.js'
import type { BirthDefs, BirthStore } from './birth-store.js'
import { bdSeqOf, readBirth, resolveData, type MetricLimits } from './metrics-of.js'
import { decodeSparkplugPayload, TooManyMetrics, uncompressed, type SpPayload } from './payload.js'
import { drain, newSeqWindow, offer, rebase, type SeqWindow } from './seq-window.js'
import { toRecords, type CounterMemory, type Rejected, type Target } from './to-records.js'
import { nodeKey, parseSparkplugTopic, type SparkplugTopic } from './topic.js'

/** One journaled Sparkplug message (a frame of the journal: docs/delivery.md). */
export interface SparkplugFrame {
  readonly topic: string
  readonly gatewayId: string
  readonly payload: Buffer
  readonly receivedMs: number
}

export interface SparkplugResult {
  readonly outcomes: IngestOutcome[]
  /** Edge nodes (`{group}/{edge node}`) to send a rebirth request to (already rate-limited). */
  readonly rebirths: string[]
}

export interface SparkplugHostDeps {
  readonly registry: RegistrySource
  readonly births: BirthStore
  readonly live: LiveStateTable
  readonly keeper: Pick<RejectionKeeper, 'keep'>
  /** The iiot/v1 validator (validate.ts): material movements are checked by it (material-dataset.ts). */
  readonly validate: Validate
  /** Publishes NCMD `Node Control/Rebirth` = true to an edge node (command.ts). */
  readonly sendRebirth: (group: string, edgeNode: string) => void
  readonly metrics: Pick<Metrics, 'registry'>
  readonly log: Logger
  /**
   * The iiot/v1 limits (config.ts, INGEST_*): the most metrics one message may carry, and a
   * metric's time and string bounds; `maxUncompressedBytes` bounds a compressed payload's body
   * (the broker's MQTT_MAX_PACKET_BYTES: compressed, a message may not carry more than it could plain).
   */
  readonly limits: MetricLimits & { readonly maxBatch: number; readonly maxUncompressedBytes: number }
  readonly reorderWindowMs: number
  readonly reorderMaxMessages: number
  readonly rebirthMinIntervalMs: number
  readonly now?: () => number
}

export interface SparkplugHost {
  /** Handles one frame: its outcomes (lines or rejections) and the rebirth requests it calls for, as data. */
  ingest(frame: SparkplugFrame): SparkplugResult
  /** `ingest`, with the rebirth requests sent: what the processor calls. */
  handle(frame: SparkplugFrame): IngestOutcome[]
  /**
   * Writes births received since the last call durably (birth-store.ts); the processor calls it
   * at the end of every batch with Sparkplug messages. False (and logged) when it cannot: the
   * births stay in memory and the next call tries again.
   */
  flush(): boolean
  /** An operator's rebirth request (the API): sent unless one went out within the minimum interval; true when sent. */
  requestRebirth(group: string, edgeNode: string): boolean
  /** Stops the reorder timers, keeps what the windows held as rejections (the caller closes the keeper after), and flushes the births. */
  close(): void
}

interface Held {
  readonly frame: SparkplugFrame
  readonly topic: SparkplugTopic
  readonly payload: SpPayload
}

interface NodeRuntime {
  readonly window: SeqWindow<Held>
  timer: NodeJS.Timeout | undefined
  lastRebirthMs: number | undefined
  /** Between an NDEATH and the next NBIRTH. */
  dead: boolean
  readonly deadDevices: Set<string>
}

/**
 * The Sparkplug B primary host application's ingest side (docs/sparkplug.md): births and their
 * aliases, the seq reorder window, deaths, rebirth requests, and the mapping of metrics onto
 * the records the rest of the service knows. Synchronous, on the main thread: an edge node is
 * one gateway, so its seq and alias state live in one place.
 */
export function createSparkplugHost(deps: SparkplugHostDeps): SparkplugHost {
  const { registry, births, live, keeper, log } = deps
  const now = deps.now ?? Date.now
  // Loads seen by this host judge its consumptions (material-tracker.ts), as each decoder's do for iiot/v1.
  const trackers = { counters: new CounterTracker(), live, materials: new MaterialTracker() }
  const counters: CounterMemory = new Map()
  const nodes = new Map<string, NodeRuntime>()
  const receivedCounter = new Counter({ name: 'iiot_sparkplug_messages_received_total', help: 'Sparkplug B messages taken from the journal, by message type (NBIRTH, DDATA, ...; "invalid" for a topic that is not one)', labelNames: ['type'], registers: [deps.metrics.registry] })
  const rebirthCounter = new Counter({ name: 'iiot_sparkplug_rebirth_requests_total', help: 'Rebirth requests sent to Sparkplug edge nodes, by cause', labelNames: ['cause'], registers: [deps.metrics.registry] })

  const runtime = (key: string): NodeRuntime => {
    let n = nodes.get(key)
    if (!n) nodes.set(key, (n = { window: newSeqWindow(), timer: undefined, lastRebirthMs: undefined, dead: false, deadDevices: new Set() }))
    return n
  }

  /** A rebirth request unless one went out within the minimum interval (Sparkplug 3.0, 5.8: rate-limited per node). */
  function wantRebirth(key: string, cause: string, out: string[]): boolean {
    const n = runtime(key)
    const t = now()
    if (n.lastRebirthMs !== undefined && t - n.lastRebirthMs < deps.rebirthMinIntervalMs) return false
    n.lastRebirthMs = t
    rebirthCounter.inc({ cause })
    out.push(key)
    return true
  }

  const gatewayTopic = (e: SparkplugNodeEntry): GatewayTopic => ({ scope: 'gateway', zone: e.zone, factory: e.factory, gateway: e.gateway, kind: 'connectivity' })
  const reject = (reason: string, message: string, e?: SparkplugNodeEntry): IngestOutcome => ({ ok: false, reason, message, topic: e ? gatewayTopic(e) : undefined })
  const machineOf = (e: SparkplugNodeEntry, device: string | undefined): MachineTopic | undefined => {
    const m = device === undefined ? e.machine : e.devices.get(device)
    return m && { scope: 'machine', zone: m.zone.id, factory: m.factory.id, line: m.line.id, machine: m.machine.id, kind: 'state' }
  }

  /** State changes for machines (a death: offline; a birth: back), through the same mapping as iiot/v1 state. */
  function stateOutcome(e: SparkplugNodeEntry, gatewayId: string, machine: MachineTopic, change: StateChange): IngestOutcome {
    const message = { kind: 'state' as const, seq: 0, sentTsMs: change.tsMs, changes: [change] }
    return { ok: true, accepted: { topic: machine, gatewayId, message, lines: toLines(machine, message, trackers) } }
  }

  /** What a birth brings a machine back to when it carries no mapped state: the state before the death, else idle. */
  const beforeDeath = new Map<string, StateChange>()
  function offline(e: SparkplugNodeEntry, gatewayId: string, machine: MachineTopic, reason: string, tsMs: number): IngestOutcome {
    const key = machineKey(machine.zone, machine.factory, machine.line, machine.machine)
    const was = live.get(key)
    if (was?.state && was.state !== 'offline') beforeDeath.set(key, { state: was.state, reasonCode: was.reason, alarmCodes: was.alarms, tsMs })
    return stateOutcome(e, gatewayId, machine, { state: 'offline', reasonCode: reason, alarmCodes: [], tsMs })
  }
  function back(e: SparkplugNodeEntry, gatewayId: string, machine: MachineTopic, tsMs: number): IngestOutcome | undefined {
    const key = machineKey(machine.zone, machine.factory, machine.line, machine.machine)
    if (live.get(key)?.state !== 'offline') return undefined
    const prev = beforeDeath.get(key)
    return stateOutcome(e, gatewayId, machine, { state: prev?.state ?? 'idle', reasonCode: prev?.reasonCode ?? '', alarmCodes: prev?.alarmCodes ?? [], tsMs })
  }

  /** The metrics of a birth or data message as records of its machine. */
  function data(e: SparkplugNodeEntry, h: Held, defs: BirthDefs, isBirth: boolean, out: IngestOutcome[], rebirths: string[]): void {
    const { frame, topic, payload } = h
    const key = nodeKey(topic.group, topic.edgeNode)
    const resolved = resolveData(payload, defs, frame.receivedMs, deps.limits)
    for (const r of resolved.rejected) out.push(reject(r.reason, r.message, e))
    if (resolved.unknownAlias && !isBirth) wantRebirth(key, 'unknown_alias', rebirths)
    const machine = machineOf(e, topic.device)
    let metrics = resolved.metrics
    if (machine && isBirth) {
      const birthMs = Number(payload.timestamp ?? BigInt(frame.receivedMs))
      const stateMetric = e.mapping?.state?.metric
      if (stateMetric !== undefined && metrics.some((m) => m.name === stateMetric && !m.historical)) {
        // A mapped state metric in the birth says where the machine is now. Its own timestamp may be
        // from before the death (the value last changed then): stored there, it would never end the
        // offline interval the death began, and the live table would skip it as older.
        const key = machineKey(machine.zone, machine.factory, machine.line, machine.machine)
        const lastChange = live.get(key)?.stateTsMs
        if (lastChange !== undefined) metrics = metrics.map((m) => (m.name === stateMetric && !m.historical && m.tsMs <= lastChange ? { ...m, tsMs: Math.max(birthMs, lastChange + 1) } : m))
      } else {
        // Otherwise it is back where it was. Decided before the state is made: making it updates the live table.
        const b = back(e, frame.gatewayId, machine, birthMs)
        if (b) out.push(b)
      }
    }
    const target: Target = { gatewayId: frame.gatewayId, gatewayTopic: gatewayTopic(e), machine, signals: defs.signals }
    const records = toRecords(target, metrics, e.mapping, trackers, counters, Number(payload.seq ?? 0n), frame.receivedMs, deps.validate)
    for (const r of records.rejected) out.push(reject(r.reason, r.message, e))
    for (const a of records.accepted) out.push({ ok: true, accepted: a })
    if (machine && !metrics.every((m) => m.historical)) live.seen(machineKey(machine.zone, machine.factory, machine.line, machine.machine), frame.receivedMs)
  }

  /** One message in seq order (or a birth): by type. */
  function inOrder(e: SparkplugNodeEntry, h: Held, out: IngestOutcome[], rebirths: string[]): void {
    const { topic, payload, frame } = h
    const key = nodeKey(topic.group, topic.edgeNode)
    const n = runtime(key)
    const born = births.get(key)
    // Checked in seq order, not on arrival: the message still counts in the node's seq (Sparkplug 3.0,
    // 6.4.18), or the node's next message would wait for it and end as a gap, and a rebirth would
    // bring the same unlisted device back: every message of the node lost, in a loop.
    if (topic.device !== undefined && !e.devices.has(topic.device)) return void out.push(reject('unknown_device', `device "${topic.device}" of edge node ${key} is not in the registry`, e))
    if (topic.type === 'DBIRTH') {
      if (!born || n.dead) {
        out.push(reject('no_birth', `DBIRTH of "${topic.device}" before the NBIRTH of edge node ${key}`, e))
        wantRebirth(key, 'data_before_birth', rebirths)
        return
      }
      const birth = readBirth(payload, false)
      if (!birth.ok) {
        // The device's previous definitions stay; a new birth may bring good ones (docs/sparkplug.md).
        out.push(reject(birth.reason, birth.message, e))
        wantRebirth(key, 'bad_birth', rebirths)
        return
      }
      births.setDevice(key, topic.device!, birth.defs)
      n.deadDevices.delete(topic.device!)
      return data(e, h, births.get(key)!.devices.get(topic.device!)!, true, out, rebirths)
    }
    const defs = !born || n.dead ? undefined : topic.device === undefined ? born.node : n.deadDevices.has(topic.device) ? undefined : born.devices.get(topic.device)
    if (!defs) {
      out.push(reject('no_birth', `${topic.type} before the birth of ${topic.device === undefined ? `edge node ${key}` : `device "${topic.device}" of ${key}`}`, e))
      wantRebirth(key, 'data_before_birth', rebirths)
      return
    }
    if (topic.type === 'DDEATH') {
      n.deadDevices.add(topic.device!)
      const machine = machineOf(e, topic.device)
      if (machine) out.push(offline(e, frame.gatewayId, machine, 'sparkplug_ddeath', Number(payload.timestamp ?? BigInt(frame.receivedMs))))
      return
    }
    data(e, h, defs, false, out, rebirths)
  }

  function endWindow(key: string, e: SparkplugNodeEntry, cause: string, out: IngestOutcome[] | undefined): void {
    const n = runtime(key)
    if (n.timer) clearTimeout(n.timer)
    n.timer = undefined
    for (const h of drain(n.window)) {
      const r = reject('sequence_gap', `seq ${String(h.payload.seq)} of ${key} waited for a missing message (${cause}); a rebirth was requested`, e)
      if (out) out.push(r)
      else if (!r.ok) void keeper.keep({ topic: h.frame.topic, gateway: h.frame.gatewayId, zone: e.zone, factory: e.factory, reason: r.reason, message: r.message, payload: h.frame.payload })
    }
  }

  function ingest(frame: SparkplugFrame): SparkplugResult {
    const out: IngestOutcome[] = []
    const rebirths: string[] = []
    const parsed = parseSparkplugTopic(frame.topic)
    receivedCounter.inc({ type: parsed.ok ? parsed.topic.type : 'invalid' })
    if (!parsed.ok) return { outcomes: [reject('bad_topic', parsed.reason)], rebirths }
    const topic = parsed.topic
    const reg = registry.current()
    const e = reg.sparkplugNode(topic.group, topic.edgeNode)
    if (!e || e.gateway !== frame.gatewayId) {
      const known = reg.file.sparkplug?.groups.some((g) => g.id === topic.group)
      return { outcomes: [reject(known ? 'unknown_edge_node' : 'unknown_sparkplug_group', known ? `edge node "${topic.edgeNode}" of group "${topic.group}" is not registered for gateway "${frame.gatewayId}"` : `Sparkplug group "${topic.group}" is not in the registry`)], rebirths }
    }
    if (topic.type === 'NCMD' || topic.type === 'DCMD') return { outcomes: [reject('bad_topic', `${topic.type} is sent by host applications, not edge nodes`, e)], rebirths }
    let payload: SpPayload
    try {
      const { maxBatch, maxUncompressedBytes } = deps.limits
      payload = uncompressed(decodeSparkplugPayload(frame.payload, maxBatch), maxUncompressedBytes, maxBatch)
    } catch (err) {
      if (err instanceof TooManyMetrics) return { outcomes: [reject('batch_too_large', err.message, e)], rebirths }
      return { outcomes: [reject('decode_error', `not a Sparkplug B payload: ${(err as Error).message}`, e)], rebirths }
    }
    const key = nodeKey(topic.group, topic.edgeNode)
    const n = runtime(key)
    const h: Held = { frame, topic, payload }

    if (topic.type === 'NBIRTH') {
      const birth = readBirth(payload, true)
      if (!birth.ok) {
        out.push(reject(birth.reason, birth.message, e))
        wantRebirth(key, 'bad_birth', rebirths)
        return { outcomes: out, rebirths }
      }
      endWindow(key, e, 'a new birth', out)
      births.setNode(key, birth.bdSeq, birth.defs)
      n.dead = false
      n.deadDevices.clear()
      rebase(n.window, Number(payload.seq ?? 0n) & 0xff)
      data(e, h, births.get(key)!.node, true, out, rebirths)
      return { outcomes: out, rebirths }
    }
    if (topic.type === 'NDEATH') {
      const bdSeq = bdSeqOf(payload)
      const current = births.get(key)?.bdSeq
      // Sparkplug 3.0, 7.1: an NDEATH counts only when its bdSeq is the current NBIRTH's; an older session's changes nothing.
      if (bdSeq === undefined || current === undefined || bdSeq !== current || n.dead) {
        out.push(reject('stale_ndeath', `NDEATH of ${key} with bdSeq ${bdSeq ?? '(none)'} does not match the current birth's bdSeq ${current ?? '(none)'}; nothing changed`, e))
        return { outcomes: out, rebirths }
      }
      endWindow(key, e, 'the edge node died', out)
      n.dead = true
      // The will's timestamp is the time it was set (at connect): the death is when the broker saw it.
      const tsMs = frame.receivedMs
      const machines = [e.machine, ...e.devices.values()].filter((m) => m !== undefined)
      for (const m of machines) out.push(offline(e, frame.gatewayId, { scope: 'machine', zone: m.zone.id, factory: m.factory.id, line: m.line.id, machine: m.machine.id, kind: 'state' }, 'sparkplug_ndeath', tsMs))
      return { outcomes: out, rebirths }
    }
    if (payload.seq === undefined || payload.seq > 255n) {
      out.push(reject('invalid_payload', `${topic.type} without a seq of 0-255`, e))
      return { outcomes: out, rebirths }
    }
    const o = offer(n.window, Number(payload.seq), h, deps.reorderMaxMessages, now())
    if (o.kind === 'ready') {
      for (const r of o.ready) inOrder(e, r, out, rebirths)
      if (n.window.held.size === 0 && n.timer) {
        clearTimeout(n.timer)
        n.timer = undefined
      }
    } else if (o.kind === 'held') {
      n.timer ??= setTimeout(() => {
        n.timer = undefined
        try {
          const later: string[] = []
          endWindow(key, e, `the ${deps.reorderWindowMs} ms reorder window ended`, undefined)
          if (wantRebirth(key, 'sequence_gap', later)) send(later)
        } catch (err) {
          log.error({ err, node: key }, 'Sparkplug reorder window could not be ended')
        }
      }, deps.reorderWindowMs).unref()
    } else if (o.kind === 'late') {
      out.push(reject('sequence_late', `seq ${payload.seq} of ${key} is behind the expected ${n.window.expected}: a duplicate or a message after its window ended`, e))
    } else {
      endWindow(key, e, 'the reorder window is full', out)
      out.push(reject('sequence_gap', `seq ${payload.seq} of ${key} arrived with the reorder window full`, e))
      wantRebirth(key, 'sequence_gap', rebirths)
    }
    return { outcomes: out, rebirths }
  }

  function flush(): boolean {
    try {
      births.flush()
      return true
    } catch (err) {
      log.error({ err }, 'Sparkplug births could not be written; kept in memory, retried with the next batch')
      return false
    }
  }

  function send(keys: readonly string[]): void {
    for (const k of keys) {
      const slash = k.indexOf('/')
      try {
        deps.sendRebirth(k.slice(0, slash), k.slice(slash + 1))
      } catch (err) {
        log.error({ err, node: k }, 'could not send a Sparkplug rebirth request')
      }
    }
  }

  return {
    ingest,
    handle(frame) {
      let r: SparkplugResult
      try {
        r = ingest(frame)
      } catch (err) {
        // A bug of ours or a births file that cannot be written: reject this message, keep the stream going.
        log.error({ err, topic: frame.topic }, 'Sparkplug message could not be handled')
        return [{ ok: false, reason: 'internal_error', message: `the Sparkplug host failed on this message: ${(err as Error).message}`, topic: undefined }]
      }
      send(r.rebirths)
      return r.outcomes
    },
    flush,
    requestRebirth(group, edgeNode) {
      const keys: string[] = []
      if (!wantRebirth(nodeKey(group, edgeNode), 'operator', keys)) return false
      send(keys)
      return true
    },
    close() {
      // What still waits for a missing message is kept as a rejection, not dropped with the process
      // (its journal records are behind the checkpoint already: docs/sparkplug.md).
      for (const [key, n] of nodes) {
        if (n.timer) clearTimeout(n.timer)
        n.timer = undefined
        if (n.window.held.size === 0) continue
        const slash = key.indexOf('/')
        const e = registry.current().sparkplugNode(key.slice(0, slash), key.slice(slash + 1))
        if (e) endWindow(key, e, 'the service stopped first', undefined)
      }
      flush()
    },
  }
}

export type { Rejected }
