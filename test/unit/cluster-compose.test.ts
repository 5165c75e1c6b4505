import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { envSchema } from '../../src/config/config.js'

// docker/cluster/compose.yml cannot run here (no Docker): its shape and its variables are checked instead (docs/scaling-out.md).
const dir = new URL('../../docker/cluster/', import.meta.url)
const compose = parse(readFileSync(new URL('compose.yml', dir), 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; image?: string; volumes?: string[] }> }
const services = compose.services
const iiot = Object.entries(services).filter(([, s]) => s.image === 'iiot-ingest')

describe('cluster compose file', () => {
  it('has two EMQX nodes, three workers, two API nodes behind a load balancer, InfluxDB 2.7 and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['api-1', 'api-2', 'emqx1', 'emqx2', 'grafana', 'influxdb', 'lb', 'worker-1', 'worker-2', 'worker-3'])
    expect(services.emqx1!.image).toMatch(/^emqx\/emqx:5\./)
    expect(services.influxdb!.image).toBe('influxdb:2.7')
    expect(iiot.map(([name, s]) => [name, s.environment!.SERVICE_MODE])).toEqual([['worker-1', 'worker'], ['worker-2', 'worker'], ['worker-3', 'worker'], ['api-1', 'api'], ['api-2', 'api']])
    const nginx = readFileSync(new URL('nginx.conf', dir), 'utf8')
    expect(nginx).toContain('server api-1:8080')
    expect(nginx).toContain('server api-2:8080')
  })

  it('sets only variables the service reads, with values its schema accepts, and a stable client id and journal per worker', () => {
    const known = new Set(Object.keys(envSchema.shape))
    for (const [name, s] of iiot) {
      for (const [key, value] of Object.entries(s.environment!)) {
        expect(known.has(key), `${name}: ${key}`).toBe(true)
        if (!String(value).includes('${')) expect(envSchema.shape[key as keyof typeof envSchema.shape].safeParse(String(value)).success, `${name}: ${key}=${value}`).toBe(true)
      }
    }
    const workers = iiot.filter(([n]) => n.startsWith('worker-'))
    expect(new Set(workers.map(([, s]) => s.environment!.BROKER_CLIENT_ID)).size).toBe(3)
    expect(new Set(workers.map(([, s]) => s.volumes!.find((v) => v.endsWith(':/app/data'))))).toEqual(new Set(['worker-1-data:/app/data', 'worker-2-data:/app/data', 'worker-3-data:/app/data']))
  })

  it('points EMQX\'s HTTP authentication and authorization at the API\'s broker endpoint', () => {
    const emqx = readFileSync(new URL('emqx.conf', dir), 'utf8')
    expect(emqx).toContain('/api/v1/broker/auth')
    expect(emqx).toContain('/api/v1/broker/acl')
    expect(emqx).toMatch(/no_match = deny/)
  })
})
