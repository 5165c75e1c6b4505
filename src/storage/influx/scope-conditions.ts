import type { Scope } from '../ports.js'
import type { BindParams } from './influxql-client.js'

const SCOPE_TAGS = ['zone', 'factory', 'line', 'machine'] as const

/** `tag = $tag` conditions for the parts of the scope that are set; values go in as bind parameters. */
export function scopeConditions(scope: Scope, params: BindParams): string[] {
  const where: string[] = []
  for (const tag of SCOPE_TAGS) {
    const value = scope[tag]
    if (value === undefined) continue
    where.push(`"${tag}" = $${tag}`)
    params[tag] = value
  }
  return where
}
