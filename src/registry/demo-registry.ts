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
    }
  }
  const apiKey = await addApiKey(doc, 'demo-admin', { all: true }, 'demo key with access to everything')
  return { doc, credentials, apiKey }
}
