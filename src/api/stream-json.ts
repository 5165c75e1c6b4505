import type { DecodedMessage } from '../domain/records.js'

/**
 * The JSON of a live-stream event. A telemetry sample or an inspection
 * without a unit carries `"unit":null`, as the REST answers do (docs/api.md,
 * "Live stream"): the decoded message holds protobuf's default, ''. Copying
 * the samples is the cheapest way to say so (a 50-sample message: 27 µs
 * against 22 µs unchanged; rewriting the text took 34 µs, a replacer 54 µs).
 */
export function streamJson(body: object): string {
  const m = (body as { readonly message?: DecodedMessage }).message
  if (m?.kind === 'telemetry') return JSON.stringify({ ...body, message: { ...m, samples: m.samples.map(nullUnit) } })
  if (m?.kind === 'quality') return JSON.stringify({ ...body, message: { ...m, inspections: m.inspections.map(nullUnit) } })
  return JSON.stringify(body)
}

function nullUnit<T extends { readonly unit: string }>(x: T): T | (Omit<T, 'unit'> & { unit: null }) {
  return x.unit === '' ? { ...x, unit: null } : x
}
