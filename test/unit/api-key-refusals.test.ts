import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/metrics/metrics.js'
import { buildTestApi } from '../helpers/api-app.js'

describe('API key refusals are counted and logged without what was presented', () => {
  it('counts missing and unknown keys, and logs a refused key id only when it names a key', async () => {
    const metrics = createMetrics()
    const lines: string[] = []
    const { default: pino } = await import('pino')
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) })
    const api = await buildTestApi({ deps: { metrics, log } })
    try {
      expect((await api.inject({ url: '/api/v1/hierarchy' })).statusCode).toBe(401)
      expect((await api.inject({ url: '/api/v1/hierarchy', headers: { authorization: 'Bearer ops.wrong-secret-0123456789' } })).statusCode).toBe(401)
      expect((await api.inject({ url: '/api/v1/hierarchy', headers: { authorization: 'Bearer s3cr3t-pasted-as-id.x' } })).statusCode).toBe(401)
      const counts = Object.fromEntries((await metrics.apiAuthFailures.get()).values.map((v) => [v.labels.reason, v.value]))
      expect(counts).toEqual({ missing: 1, unknown: 2 })
      const refused = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'API key refused')
      expect(refused.map((l) => l.keyId)).toEqual(['ops', '(not a key id, 19 characters)'])
      expect(lines.join('\n')).not.toContain('s3cr3t')
    } finally {
      await api.close()
    }
  })
})
