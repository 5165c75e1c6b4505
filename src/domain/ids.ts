/** Ids of zones, factories, lines, machines, gateways and API keys (docs/registry.md). */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

export function isSlug(value: string): boolean {
  return SLUG_PATTERN.test(value)
}

/** Signal and characteristic names: safe as InfluxDB tag values without surprises. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:/-]{1,128}$/
