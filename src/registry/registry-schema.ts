import { z } from 'zod'
import { SLUG_PATTERN } from '../domain/ids.js'
import { SECRET_HASH_PATTERN } from './secret-hash.js'

const slug = z.string().regex(SLUG_PATTERN, 'must be a lowercase slug ([a-z0-9][a-z0-9-]{0,62})')
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)')
const secretHash = z.string().regex(SECRET_HASH_PATTERN, 'must be an scrypt hash made by the registry CLI')

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

export const machineSchema = z.object({
  id: slug,
  name: z.string().max(200).optional(),
  /** Ideal (design) cycle time per part, seconds: the performance term of OEE. */
  idealCycleTimeS: z.number().positive().finite(),
})

export const lineSchema = z.object({
  id: slug,
  name: z.string().max(200).optional(),
  machines: z.array(machineSchema).max(10_000),
})

export const shiftSchema = z.object({ name: z.string().min(1).max(64), start: hhmm, end: hhmm })

export const factorySchema = z.object({
  id: slug,
  name: z.string().max(200).optional(),
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Ho_Chi_Minh').default('Asia/Ho_Chi_Minh'),
  shifts: z.array(shiftSchema).max(24).default([]),
  lines: z.array(lineSchema).max(1000),
})

export const zoneSchema = z.object({
  id: slug,
  name: z.string().max(200).optional(),
  factories: z.array(factorySchema).max(10_000),
})

export const gatewaySchema = z.object({
  id: slug,
  factory: slug,
  secretHash,
})

export const apiKeyScopeSchema = z.union([
  z.object({ all: z.literal(true) }).strict(),
  z.object({ zone: slug }).strict(),
  z.object({ factory: slug }).strict(),
])

export const apiKeySchema = z.object({
  id: slug,
  name: z.string().max(200).optional(),
  secretHash,
  scope: apiKeyScopeSchema,
})

export const registryFileSchema = z.object({
  zones: z.array(zoneSchema).default([]),
  gateways: z.array(gatewaySchema).default([]),
  apiKeys: z.array(apiKeySchema).default([]),
})

export type RegistryFile = z.infer<typeof registryFileSchema>
export type RegistryFileInput = z.input<typeof registryFileSchema>
export type ZoneDef = z.infer<typeof zoneSchema>
export type FactoryDef = z.infer<typeof factorySchema>
export type LineDef = z.infer<typeof lineSchema>
export type MachineDef = z.infer<typeof machineSchema>
export type GatewayDef = z.infer<typeof gatewaySchema>
export type ApiKeyDef = z.infer<typeof apiKeySchema>
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>
