import type { MessageTypes } from '../pipeline/proto-schema.js'
import type { PlannedGateway } from './credentials.js'
import { createGatewayClient, type GatewayClient } from './gateway-client.js'
import { createSparkplugGatewayClient } from './sparkplug-gateway-client.js'
import { CONNECTIVITY_INTERVAL_MS, createLinkModel } from './link-model.js'
import { createMachineModel, type MachineModel } from './machine-model.js'
import { createLineFlow, type LineFlow } from './material-flow.js'
import type { MovementMsg } from './messages.js'
import { createPrng, deriveSeed } from './prng.js'
import type { Stats } from './stats.js'

export interface RunnerOptions {
  readonly plan: readonly PlannedGateway[]
  readonly url: string
  readonly qos: 0 | 1
  /** Telemetry messages per second per machine. */
  readonly rate: number
  readonly samples: number
  readonly seed: number
  readonly types: MessageTypes
  readonly stats: Stats
  readonly log: (line: string) => void
  /** iiot/v1 protobuf, Sparkplug B (docs/sparkplug.md), or mixed: every second gateway speaks Sparkplug. */
  readonly protocol?: 'iiot' | 'sparkplug' | 'mixed'
}

export interface Simulation {
  connectedGateways(): number
  /** Stops generating, then ends every connection (waiting briefly for outstanding acks). */
  stop(): Promise<void>
}

const TICK_MS = 20
const STEP_MS = 1_000
/** After a stall (e.g. a long GC pause) the schedule restarts instead of bursting the backlog. */
const MAX_LAG_MS = 2_000

interface MachineSlot {
  readonly client: GatewayClient
  readonly model: MachineModel
  /** The material flow of its line, and its place on that line (machines in registry order). */
  readonly flow: LineFlow
  readonly stage: number
  nextTelemetryAt: number
  nextStepAt: number
}

interface GatewaySlot {
  readonly client: GatewayClient
  readonly link: ReturnType<typeof createLinkModel>
  nextReportAt: number
}

/**
 * Drives the models from one timer: telemetry at `rate` per machine (the bulk
 * of the traffic), each machine's state/production/quality step once a second,
 * connectivity per gateway every 10 s. Start times are spread at random so
 * the load is even rather than a burst at each full second.
 */
export function startSimulation(opts: RunnerOptions): Simulation {
  const startMs = Date.now()
  const phase = createPrng(deriveSeed(opts.seed, 'schedule'))
  const telemetryIntervalMs = 1000 / opts.rate
  const machines: MachineSlot[] = []
  const gateways: GatewaySlot[] = []

  for (const [index, { gateway, factoryIndex, machines: planned }] of opts.plan.entries()) {
    const sparkplug = opts.protocol === 'sparkplug' || (opts.protocol === 'mixed' && index % 2 === 1)
    const client = (sparkplug ? createSparkplugGatewayClient : createGatewayClient)({ url: opts.url, gateway, qos: opts.qos, types: opts.types, stats: opts.stats, log: opts.log })
    const link = createLinkModel(factoryIndex, deriveSeed(opts.seed, `gateway/${gateway.zone}/${gateway.factory}/${gateway.id}`))
    gateways.push({ client, link, nextReportAt: startMs + phase.range(0, 2_000) })
    const flows = new Map<string, LineFlow>()
    const stamp = Math.floor(startMs / 1000).toString(36) // supplier lots of this run, unlike any earlier run's
    for (const m of planned) {
      const model = createMachineModel(m, deriveSeed(opts.seed, `${gateway.zone}/${gateway.factory}/${m.line}/${m.machine}`), startMs)
      const onLine = planned.filter((p) => p.line === m.line)
      let flow = flows.get(m.line)
      // Lot ids are unique per factory (docs/materials.md); the factory in the stamp keeps two factories of one simulator from sharing supplier lot ids.
      if (!flow) flows.set(m.line, (flow = createLineFlow({ line: m.line, stages: onLine.length, prng: createPrng(deriveSeed(opts.seed, `material/${gateway.zone}/${gateway.factory}/${m.line}`)), stamp: `${gateway.factory}-${stamp}` })))
      machines.push({ client, model, flow, stage: onLine.indexOf(m), nextTelemetryAt: startMs + phase.range(0, telemetryIntervalMs), nextStepAt: startMs + phase.range(0, STEP_MS) })
    }
  }

  const stepMachine = (slot: MachineSlot, now: number) => {
    const { line, machine } = slot.model.spec
    const ev = slot.model.step(now)
    if (ev.state.length > 0) slot.client.publishMachine(line, machine, { kind: 'state', changes: ev.state }, now)
    if (ev.production.length > 0) slot.client.publishMachine(line, machine, { kind: 'production', reports: ev.production }, now)
    const movements: MovementMsg[] = []
    const inspections = [...ev.quality]
    for (const out of ev.output) {
      const flow = slot.flow.produced(slot.stage, out)
      movements.push(...flow.movements)
      inspections.push(...flow.inspections)
    }
    if (movements.length > 0) slot.client.publishMachine(line, machine, { kind: 'material', movements }, now)
    if (inspections.length > 0) slot.client.publishMachine(line, machine, { kind: 'quality', inspections }, now)
  }

  const tick = () => {
    const now = Date.now()
    for (const slot of machines) {
      const { line, machine } = slot.model.spec
      if (now >= slot.nextStepAt) {
        stepMachine(slot, now)
        slot.nextStepAt = now - slot.nextStepAt > MAX_LAG_MS ? now + STEP_MS : slot.nextStepAt + STEP_MS
      }
      if (now - slot.nextTelemetryAt > MAX_LAG_MS) slot.nextTelemetryAt = now
      while (now >= slot.nextTelemetryAt) {
        // Stamped with the slot's own time, so catch-up messages in one tick do not repeat timestamps.
        const at = Math.round(slot.nextTelemetryAt)
        slot.client.publishMachine(line, machine, { kind: 'telemetry', samples: slot.model.telemetry(at, opts.samples, telemetryIntervalMs) }, now)
        slot.nextTelemetryAt += telemetryIntervalMs
      }
    }
    for (const gw of gateways) {
      if (now < gw.nextReportAt) continue
      gw.client.publishConnectivity({ kind: 'connectivity', reports: [gw.link.report(now)] }, now)
      gw.nextReportAt = Math.max(gw.nextReportAt + CONNECTIVITY_INTERVAL_MS, now + 1)
    }
  }

  const timer = setInterval(() => {
    try {
      tick()
    } catch (err) {
      // A bug in one tick must not end the run; report it and keep going.
      opts.stats.errors++
      opts.log(`tick failed: ${(err as Error).stack ?? String(err)}`)
    }
  }, TICK_MS)

  return {
    connectedGateways: () => gateways.filter((g) => g.client.isConnected()).length,
    async stop() {
      clearInterval(timer)
      await Promise.all(gateways.map((g) => g.client.end(5_000)))
    },
  }
}
