import { addApiKey, addFactory, addGateway, addLine, addMachine, addZone, emptyRegistry, type RegistryDoc } from './registry-editor.js'

export interface DemoShape {
  readonly zones: number
  readonly factoriesPerZone: number
  readonly linesPerFactory: number
  readonly machinesPerLine: number
}

export interface SimulatorCredentials {
  mqttUrl: string
  gateways: {
    id: string
    secret: string
    zone: string
    factory: string
    lines: { id: string; machines: { id: string; idealCycleTimeS: number }[] }[]
  }[]
}

/**
 * How the simulator speaks Sparkplug B (`simulate --protocol sparkplug`, docs/sparkplug.md): each
 * factory is a group, its gateway the edge node, each machine a device `{line}.{machine}`, and
 * these metric names carry its state (the iiot/v1 state numbers), counters, cycle time and
 * inspections.
 */
export const DEMO_SPARKPLUG_MAPPING = {
  state: {
    metric: 'State',
    values: {
      '1': { state: 'running' }, '2': { state: 'idle' }, '3': { state: 'setup' }, '4': { state: 'planned_stop' },
      '5': { state: 'unplanned_stop' }, '6': { state: 'fault' }, '7': { state: 'offline' },
    },
    reasonMetric: 'State/Reason',
  },
  goodCount: 'Counts/Good',
  rejectCount: 'Counts/Reject',
  cycleTime: 'Cycle/Time',
  inspections: [
    { metric: 'Quality/bore.diameter', characteristic: 'bore.diameter', lsl: 24.95, usl: 25.05, target: 25.0, unit: 'mm' },
    { metric: 'Quality/surface.roughness', characteristic: 'surface.roughness', usl: 1.6, target: 0.8, unit: 'um' },
    // Incoming material, inspected as it arrives (material-flow.ts, HARDNESS).
    { metric: 'Quality/material.hardness', characteristic: 'material.hardness', lsl: 40, usl: 50, target: 45, unit: 'HRC' },
  ],
  // The edge node's modem (the Sparkplug simulator's NDATA): the gateway's connectivity, as iiot/v1 gateways report it.
  // Its access is fixed here; the simulator's second factory (the Sparkplug one in the Quick start) is on 5G NSA.
  link: { access: '5g-nsa', rsrpDbm: 'Modem/RSRP', rsrqDb: 'Modem/RSRQ', sinrDb: 'Modem/SINR', rttMs: 'Modem/RTT' },
} as const

/** The Sparkplug device id of a machine in the demo convention. */
export const demoDeviceId = (line: string, machine: string): string => `${line}.${machine}`

const ZONE_NAMES = ['Saigon Hi-Tech Park', 'VSIP Binh Duong', 'Long Hau Industrial Park', 'Hiep Phuoc Industrial Park']
const SHIFTS = [
  { name: 'morning', start: '06:00', end: '14:00' },
  { name: 'afternoon', start: '14:00', end: '22:00' },
  { name: 'night', start: '22:00', end: '06:00' },
]

/**
 * A demo registry: zones z1.., factories z1-f1.., lines line-1.., machines m-1..,
 * one gateway per factory and one API key with scope "all". Secrets are
 * returned so the simulator can connect and the operator can query.
 */
export async function buildDemoRegistry(shape: DemoShape, mqttUrl: string): Promise<{ doc: RegistryDoc; credentials: SimulatorCredentials; apiKey: string }> {
  const doc = emptyRegistry()
  const credentials: SimulatorCredentials = { mqttUrl, gateways: [] }
  for (let z = 1; z <= shape.zones; z++) {
    const zone = `z${z}`
    addZone(doc, zone, ZONE_NAMES[(z - 1) % ZONE_NAMES.length])
    for (let f = 1; f <= shape.factoriesPerZone; f++) {
      const factory = `${zone}-f${f}`
      addFactory(doc, zone, { id: factory, name: `Factory ${f} of ${zone}`, timezone: 'Asia/Ho_Chi_Minh', shifts: SHIFTS })
      const lines: SimulatorCredentials['gateways'][number]['lines'] = []
      for (let l = 1; l <= shape.linesPerFactory; l++) {
        const line = `line-${l}`
        addLine(doc, factory, line)
        const machines: { id: string; idealCycleTimeS: number }[] = []
        for (let m = 1; m <= shape.machinesPerLine; m++) {
          const machine = { id: `m-${m}`, idealCycleTimeS: 6 + ((m * 7 + l * 3) % 10) }
          addMachine(doc, factory, line, machine)
          machines.push(machine)
        }
        lines.push({ id: line, machines })
      }
      const gateway = `gw-${factory}`
      const secret = await addGateway(doc, gateway, factory)
      credentials.gateways.push({ id: gateway, secret, zone, factory, lines })
      ;(doc.sparkplug ??= { groups: [] }).groups!.push({
        id: factory,
        factory,
        edgeNodes: [{ id: gateway, gateway, devices: lines.flatMap((l) => l.machines.map((m) => ({ id: demoDeviceId(l.id, m.id), line: l.id, machine: m.id }))) }],
        mapping: structuredClone(DEMO_SPARKPLUG_MAPPING) as never,
      })
    }
  }
  const apiKey = await addApiKey(doc, 'demo-admin', { all: true }, 'demo key with access to everything')
  return { doc, credentials, apiKey }
}
