import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { envSchema } from '../../src/config/config.js'

// The configuration page (docs/configuration.md) and .env.example list exactly the variables the service reads.
const variables = Object.keys(envSchema.shape).sort()

describe('configuration docs', () => {
  it('.env.example lists every variable, and no other', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
    const listed = [...text.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort()
    expect(listed).toEqual(variables)
  })

  it('the configuration page lists every variable in its tables, and no other', () => {
    const table = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
    const listed = [...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]).sort()
    expect(listed).toEqual(variables)
  })

  it('the defaults in .env.example are the schema defaults', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
    for (const [, name, value] of text.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)) {
      const schema = envSchema.shape[name as keyof typeof envSchema.shape]
      const parsed = schema.safeParse(value === '' ? undefined : value)
      const dflt = schema.safeParse(undefined)
      expect(parsed.success && dflt.success ? parsed.data : 'x', name).toEqual(dflt.success ? dflt.data : 'x')
    }
  })
})
