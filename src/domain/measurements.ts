/** InfluxDB measurement names: one per message kind (docs/storage.md). */
export const MEASUREMENTS = { telemetry: 'telemetry', state: 'state', production: 'production', quality: 'quality', connectivity: 'connectivity', material: 'material' } as const

/** The tag keys of each measurement; every other column is a field. */
export const TAG_KEYS: Readonly<Record<keyof typeof MEASUREMENTS, readonly string[]>> = {
  telemetry: ['zone', 'factory', 'line', 'machine', 'signal'],
  state: ['zone', 'factory', 'line', 'machine'],
  production: ['zone', 'factory', 'line', 'machine'],
  quality: ['zone', 'factory', 'line', 'machine', 'characteristic'],
  connectivity: ['zone', 'factory', 'gateway', 'access'],
  // The movement is a tag (six values); lots, work orders and materials are fields (docs/materials.md).
  material: ['zone', 'factory', 'line', 'machine', 'movement'],
}
