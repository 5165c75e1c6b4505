import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MEASUREMENTS, TAG_KEYS } from '../../src/domain/measurements.js'

// The Grafana dashboards docker-compose.yml provisions (docker/grafana): valid JSON, every
// datasource a provisioned one, every query naming measurements, fields and tags that exist
// (tags: src/domain/measurements.ts; fields: the table in docs/storage.md).
const ROOT = join(import.meta.dirname, '..', '..')
const GRAFANA = join(ROOT, 'docker', 'grafana')

async function provisionedDatasourceUids(): Promise<Set<string>> {
  const dir = join(GRAFANA, 'provisioning', 'datasources')
  const uids = new Set<string>()
  for (const f of await readdir(dir)) for (const m of (await readFile(join(dir, f), 'utf8')).matchAll(/^\s+uid:\s*(\S+)\s*$/gm)) uids.add(m[1]!)
  return uids
}

/** measurement -> fields, read from the storage table of docs/storage.md. */
async function documentedFields(): Promise<Map<string, Set<string>>> {
  const text = await readFile(join(ROOT, 'docs', 'storage.md'), 'utf8')
  const out = new Map<string, Set<string>>()
  for (const m of text.matchAll(/^\| `(\w+)` \| `[^`]*` \| (.*) \|$/gm)) out.set(m[1]!, new Set([...m[2]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!)))
  return out
}

async function dashboards(): Promise<{ file: string; json: any }[]> {
  const dir = join(GRAFANA, 'dashboards')
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'))
  return Promise.all(files.map(async (file) => ({ file, json: JSON.parse(await readFile(join(dir, file), 'utf8')) })))
}

function* queries(d: any): Generator<{ where: string; datasource: any; query: string }> {
  const panels = (d.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])])
  for (const p of panels) for (const t of p.targets ?? []) yield { where: `panel "${p.title}"`, datasource: t.datasource ?? p.datasource, query: String(t.query ?? '') }
  for (const v of d.templating?.list ?? []) if (v.type === 'query') yield { where: `variable $${v.name}`, datasource: v.datasource, query: String(typeof v.query === 'string' ? v.query : v.query?.query ?? '') }
}

/** The identifiers an InfluxQL statement names: its measurement, and every other double-quoted name that is not an alias. */
export function namesIn(query: string): { measurement: string | undefined; names: string[]; tagKey: string | undefined } {
  const measurement = /\bFROM\s+"(\w+)"/i.exec(query)?.[1]
  const tagKey = /\bWITH KEY\s*=\s*"(\w+)"/i.exec(query)?.[1]
  const names = [...query.replace(/\bAS\s+"[^"]*"/gi, '').replace(/\bFROM\s+"\w+"/gi, '').replace(/\bWITH KEY\s*=\s*"\w+"/gi, '').matchAll(/"(\w+)"/g)].map((m) => m[1]!)
  return { measurement, names, tagKey }
}

describe('Grafana dashboards', () => {
  it('are provisioned from the folder docker-compose.yml mounts', async () => {
    const compose = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8')
    expect(compose).toContain('./docker/grafana/dashboards:/etc/grafana/dashboards:ro')
    expect(await readFile(join(GRAFANA, 'provisioning', 'dashboards', 'iiot.yaml'), 'utf8')).toMatch(/path: \/etc\/grafana\/dashboards/)
    expect((await dashboards()).length).toBeGreaterThanOrEqual(2)
  })

  it('have unique uids and panel ids, and every datasource resolves to a provisioned one', async () => {
    const uids = await provisionedDatasourceUids()
    expect(uids.size).toBeGreaterThan(0)
    const seen = new Set<string>()
    for (const { file, json } of await dashboards()) {
      expect(json.uid, file).toMatch(/^[\w-]{1,40}$/)
      expect(seen.has(json.uid), `${file}: uid ${json.uid} used twice`).toBe(false)
      seen.add(json.uid)
      const ids = (json.panels ?? []).map((p: any) => p.id)
      expect(new Set(ids).size, `${file}: panel ids`).toBe(ids.length)
      for (const q of queries(json)) {
        expect(q.datasource?.type, `${file} ${q.where}`).toBe('influxdb')
        expect(uids.has(q.datasource?.uid), `${file} ${q.where}: datasource ${q.datasource?.uid}`).toBe(true)
      }
    }
  })

  it('query only measurements, fields and tags that exist', async () => {
    const fields = await documentedFields()
    const measurements = Object.values(MEASUREMENTS) as string[]
    expect([...fields.keys()].sort()).toEqual([...measurements].sort())
    const allTags = new Set(Object.values(TAG_KEYS).flat())
    let checked = 0
    for (const { file, json } of await dashboards()) {
      for (const q of queries(json)) {
        const { measurement, names, tagKey } = namesIn(q.query)
        const at = `${file} ${q.where}: ${q.query}`
        if (tagKey !== undefined) expect(allTags.has(tagKey), at).toBe(true)
        if (measurement === undefined) {
          for (const n of names) expect(allTags.has(n), `${at}: "${n}"`).toBe(true)
          continue
        }
        expect(measurements, at).toContain(measurement)
        const known = new Set([...(fields.get(measurement) ?? []), ...TAG_KEYS[measurement as keyof typeof TAG_KEYS]])
        for (const n of names) expect(known.has(n), `${at}: "${n}" is neither a field nor a tag of ${measurement}`).toBe(true)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(10)
  })

  it('the check itself catches a misspelt field and an alias is not taken for one', () => {
    expect(namesIn('SELECT mean("rsrp_dbmx") AS "RSRP" FROM "connectivity" WHERE "gateway" =~ /x/').names).toEqual(['rsrp_dbmx', 'gateway'])
  })
})
