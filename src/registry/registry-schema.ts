import { z } from 'zod'
import { NAME_PATTERN, SLUG_PATTERN } from '../domain/ids.js'
import { MATERIAL_UNITS } from '../domain/records.js'
import { MACHINE_STATES, RADIO_ACCESSES } from '../domain/records.js'
import { SECRET_HASH_PATTERN } from './secret-hash.js'
import { MOSQUITTO_HASH_PATTERN } from './mosquitto-hash.js'

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

/** A product's bill of materials: quantity of each material per one unit of the product (docs/materials.md). */
export const productSchema = z.object({
  id: z.string().regex(NAME_PATTERN, 'must be 1-128 characters of [A-Za-z0-9_.:/-] (the material id its work orders produce)'),
  name: z.string().max(200).optional(),
  bom: z.array(z.object({ material: z.string().regex(NAME_PATTERN, 'must be 1-128 characters of [A-Za-z0-9_.:/-]'), quantity: z.number().positive().finite(), unit: z.enum(MATERIAL_UNITS) })).max(1000),
})

export const factorySchema = z.object({
  id: slug,
  name: z.string().max(200).optional(),
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Ho_Chi_Minh').default('Asia/Ho_Chi_Minh'),
  shifts: z.array(shiftSchema).max(24).default([]),
  lines: z.array(lineSchema).max(1000),
  products: z.array(productSchema).max(10_000).default([]),
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
  /** The same secret as Mosquitto's password file wants it (src/registry/mosquitto-hash.ts; docs/scaling-out.md). */
  brokerHash: z.string().regex(MOSQUITTO_HASH_PATTERN, 'a mosquitto_passwd "$7$" hash').optional(),
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

// Sparkplug B (docs/sparkplug.md): group -> factory, edge node -> gateway, device -> machine.
// Sparkplug ids are UTF-8 without the MQTT separators and wildcards (Sparkplug 3.0, 4.1.1).
const sparkplugId = z.string().min(1).max(128).regex(/^[^/+#]+$/, 'must not contain "/", "+" or "#"')
const metricName = z.string().min(1).max(512)

export const sparkplugDeviceSchema = z.object({ id: sparkplugId, line: slug, machine: slug }).strict()

export const sparkplugEdgeNodeSchema = z.object({
  id: sparkplugId,
  /** The gateway whose credentials the edge node connects with. */
  gateway: slug,
  /** A machine the edge node's own metrics (NBIRTH/NDATA) belong to, when it is one. */
  line: slug.optional(),
  machine: slug.optional(),
  devices: z.array(sparkplugDeviceSchema).max(10_000).default([]),
}).strict()

/** Which metric names carry manufacturing data; every other metric is telemetry. */
export const sparkplugMappingSchema = z.object({
  state: z.object({
    metric: metricName,
    /** The metric's value (as text: "3", "true", "RUN") -> our state and an optional reason code. */
    values: z.record(z.string(), z.object({ state: z.enum(MACHINE_STATES), reasonCode: z.string().max(64).optional() }).strict()),
    /** A String metric sent beside the state metric, at its timestamp: the reason code where `values` gives none. */
    reasonMetric: metricName.optional(),
  }).strict().optional(),
  /** Monotonic part counters (a lower value is a reset). */
  goodCount: metricName.optional(),
  rejectCount: metricName.optional(),
  /** Seconds per part. */
  cycleTime: metricName.optional(),
  inspections: z.array(z.object({
    metric: metricName,
    characteristic: z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/),
    lsl: z.number().finite().optional(),
    usl: z.number().finite().optional(),
    target: z.number().finite().optional(),
    unit: z.string().max(32).optional(),
  }).strict()).max(1000).default([]),
  /** The DataSet metric of a device's material movements (docs/sparkplug.md); default `Material/Movements`. */
  materialMovements: metricName.optional(),
  /** Link-quality metrics of an edge node (its NBIRTH/NDATA): stored as the gateway's connectivity. */
  link: z.object({
    access: z.enum(RADIO_ACCESSES),
    rsrpDbm: metricName.optional(),
    rsrqDb: metricName.optional(),
    sinrDb: metricName.optional(),
    rttMs: metricName.optional(),
  }).strict().optional(),
}).strict()

export const sparkplugGroupSchema = z.object({
  id: sparkplugId,
  factory: slug,
  edgeNodes: z.array(sparkplugEdgeNodeSchema).max(10_000).default([]),
  mapping: sparkplugMappingSchema.optional(),
}).strict()

export const registryFileSchema = z.object({
  zones: z.array(zoneSchema).default([]),
  gateways: z.array(gatewaySchema).default([]),
  apiKeys: z.array(apiKeySchema).default([]),
  sparkplug: z.object({ groups: z.array(sparkplugGroupSchema).max(10_000).default([]) }).strict().optional(),
})

export type RegistryFile = z.infer<typeof registryFileSchema>
export type RegistryFileInput = z.input<typeof registryFileSchema>
export type ZoneDef = z.infer<typeof zoneSchema>
export type FactoryDef = z.infer<typeof factorySchema>
export type LineDef = z.infer<typeof lineSchema>
export type MachineDef = z.infer<typeof machineSchema>
export type ProductDef = z.infer<typeof productSchema>
export type GatewayDef = z.infer<typeof gatewaySchema>
export type ApiKeyDef = z.infer<typeof apiKeySchema>
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>
export type SparkplugGroupDef = z.infer<typeof sparkplugGroupSchema>
export type SparkplugEdgeNodeDef = z.infer<typeof sparkplugEdgeNodeSchema>
export type SparkplugMapping = z.infer<typeof sparkplugMappingSchema>
