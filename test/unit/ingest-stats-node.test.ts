import { describe, expect, it } from 'vitest'
import { buildTestApi } from '../helpers/api-app.js'
import { KEYS } from '../helpers/fixtures.js'

// Behind an external broker each process counts only what it did (docs/scaling-out.md): the answer says so.
async function stats(deps: Parameters<typeof buildTestApi>[0]): Promise<any> {
  const app = await buildTestApi(deps)
  try {
    return (await app.inject({ method: 'GET', url: '/api/v1/ingest/stats', headers: { authorization: `Bearer ${KEYS.all}` } })).json()
  } finally {
    await app.close()
  }
}

describe('GET /api/v1/ingest/stats: whose counters', () => {
  it('says the counters are the whole service\'s in embedded mode, and this node\'s in the others', async () => {
    expect((await stats({})).node).toEqual({ mode: 'embedded', counters: 'service' })
    expect((await stats({ deps: { serviceMode: 'worker' } })).node).toEqual({ mode: 'worker', counters: 'node' })
    expect((await stats({ deps: { serviceMode: 'api' } })).node).toEqual({ mode: 'api', counters: 'node' })
  })
})
