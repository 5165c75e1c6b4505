import { z } from 'zod'

/**
 * Pieces of the API's answers that several routes share, as zod schemas: the routes' `response`
 * schemas (the OpenAPI document, and what the serializer sends: src/api/openapi.ts).
 */

export const isoTime = z.string().describe('ISO 8601 date-time, UTC')

export const machineRef = z.object({ zone: z.string(), factory: z.string(), line: z.string(), machine: z.string() })

/** The scope an answer covers: the key's, narrowed by the query. */
export const scopeAnswer = z.object({ zone: z.string().optional(), factory: z.string().optional(), line: z.string().optional(), machine: z.string().optional() })

/** Seconds per state (running, idle, setup, planned_stop, unplanned_stop, fault, offline, unknown). */
export const secondsByState = z.record(z.string(), z.number())

export const stateInterval = z.object({
  state: z.string(),
  reason: z.string().nullable(),
  start: isoTime,
  end: isoTime,
  durationS: z.number(),
})

export const inspection = z.object({
  time: z.string(),
  zone: z.string(),
  factory: z.string(),
  line: z.string(),
  machine: z.string(),
  characteristic: z.string(),
  value: z.number(),
  lsl: z.number().nullable(),
  usl: z.number().nullable(),
  target: z.number().nullable(),
  unit: z.string().nullable(),
  pass: z.boolean().nullable(),
  defectCode: z.string().nullable(),
  lot: z.string().nullable(),
})

const percentiles = z.object({ p5: z.number().nullable(), p50: z.number().nullable(), p95: z.number().nullable() })

/** One gateway's link reports over the window. */
export const linkAnswer = z.object({
  factory: z.string(),
  gateway: z.string(),
  access: z.string().describe('5g-sa, 5g-nsa, lte, wifi, ethernet or fibre'),
  reports: z.number(),
  metrics: z.record(z.string(), percentiles).describe('per metric (rsrp_dbm, rsrq_db, sinr_db, rtt_ms, uplink_mbps, downlink_mbps): p5, p50, p95'),
})

/** What the connectivity report and the park overview both say of a zone. */
export const zoneReport = z.object({
  zone: z.string(),
  name: z.string().nullable(),
  factoriesRegistered: z.number(),
  factoriesOn5g: z.number(),
  no5g: z.boolean().describe('no factory of the zone reported over 5G (SA or NSA) in the window'),
  links: z.array(linkAnswer),
})

const nullableRatio = z.number().nullable()

/** OEE and its time model (docs/api.md, "OEE"). */
export const oeeFigures = z.object({
  plannedTimeMs: z.number(),
  plannedStopMs: z.number(),
  plannedProductionTimeMs: z.number(),
  runTimeMs: z.number(),
  unplannedDowntimeMs: z.number(),
  idleMs: z.number(),
  setupMs: z.number(),
  offlineMs: z.number(),
  unknownMs: z.number(),
  idealCycleTimeS: z.number().nullable(),
  idealOutputTimeMs: z.number(),
  totalCount: z.number(),
  goodCount: z.number(),
  rejectCount: z.number(),
  availability: nullableRatio,
  performance: nullableRatio.describe('raw, never capped'),
  performanceAbove1: z.boolean(),
  quality: nullableRatio,
  oee: nullableRatio,
})

/** A machine's OEE; a line's (several machines) adds `machines`. */
export const oeeAnswer = oeeFigures.extend({
  machine: z.string().optional(),
  line: z.string().optional(),
  start: isoTime.optional().describe('for one machine: where its measured part of the window starts'),
  machines: z.array(oeeFigures.extend({ machine: z.string(), line: z.string(), start: isoTime })).optional().describe('with several machines: each one'),
})
