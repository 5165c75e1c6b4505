import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { SLUG_PATTERN } from '../domain/ids.js'

const slug = z.string().regex(SLUG_PATTERN, 'must be a lowercase slug')

const credentialsSchema = z.object({
  mqttUrl: z.string().min(1),
  gateways: z
    .array(
      z.object({
        id: slug,
        secret: z.string().min(1),
        zone: slug,
        factory: slug,
        lines: z.array(z.object({ id: slug, machines: z.array(z.object({ id: slug, idealCycleTimeS: z.number().positive().finite() })) })).default([]),
      }),
    )
    .min(1, 'lists no gateways'),
})

export type Credentials = z.infer<typeof credentialsSchema>
export type GatewayCredentials = Credentials['gateways'][number]

export interface PlannedMachine {
  readonly line: string
  readonly machine: string
  readonly idealCycleTimeS: number
}

export interface PlannedGateway {
  readonly gateway: GatewayCredentials
  /** Position of the gateway's factory among the file's distinct factories: picks its radio access. */
  readonly factoryIndex: number
  readonly machines: readonly PlannedMachine[]
}

/** Parses the registry CLI's simulator file; throws with every problem named by path. */
export function parseCredentials(json: unknown): Credentials {
  const parsed = credentialsSchema.safeParse(json)
  if (!parsed.success) throw new Error(`invalid credentials file:\n${z.prettifyError(parsed.error)}`)
  return parsed.data
}

export async function loadCredentials(path: string): Promise<Credentials> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`cannot read credentials file ${path}: ${(err as Error).message}`)
  }
  try {
    return parseCredentials(JSON.parse(text))
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`)
  }
}

/**
 * Which gateway publishes for which machines. `maxMachines` keeps the first n
 * machines in file order; gateways left without machines are dropped then, so
 * a limited run also opens fewer connections.
 */
export function planFleet(credentials: Credentials, maxMachines: number = Number.POSITIVE_INFINITY): PlannedGateway[] {
  const factories: string[] = []
  const plan: PlannedGateway[] = []
  let budget = maxMachines
  for (const gateway of credentials.gateways) {
    const key = `${gateway.zone}/${gateway.factory}`
    if (!factories.includes(key)) factories.push(key)
    const machines: PlannedMachine[] = []
    for (const line of gateway.lines) {
      for (const m of line.machines) {
        if (budget <= 0) break
        machines.push({ line: line.id, machine: m.id, idealCycleTimeS: m.idealCycleTimeS })
        budget--
      }
    }
    if (machines.length === 0 && Number.isFinite(maxMachines)) continue
    plan.push({ gateway, factoryIndex: factories.indexOf(key), machines })
  }
  return plan
}
