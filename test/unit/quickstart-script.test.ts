import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { envSchema, loadConfig } from '../../src/config/config.js'

// The Quick start (README.md, scripts/quickstart.sh, scripts/lib.sh): safe by default, and its
// instructions work as written.
const root = new URL('../..', import.meta.url).pathname
const run = promisify(execFile)

/** Runs a bash snippet after sourcing scripts/lib.sh, with exactly the given environment (plus PATH). */
async function withLib(snippet: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run('bash', ['--norc', '--noprofile', '-c', `set -euo pipefail; . scripts/lib.sh; ${snippet}`], { cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } })
}

const bound = 'demo_bind; echo "$MQTT_HOST $HTTP_HOST"'

describe('the demo binds to loopback unless asked', () => {
  // Regression: the service's defaults (0.0.0.0) exposed MQTT and an API answering to an all-scope key.
  it('defaults MQTT and the API to 127.0.0.1', async () => {
    expect((await withLib(bound)).stdout.trim()).toBe('127.0.0.1 127.0.0.1')
  })

  it('binds where DEMO_BIND says', async () => {
    expect((await withLib(bound, { DEMO_BIND: '0.0.0.0' })).stdout.trim()).toBe('0.0.0.0 0.0.0.0')
  })

  it('leaves MQTT_HOST and HTTP_HOST set by the user alone', async () => {
    expect((await withLib(bound, { MQTT_HOST: '10.0.0.5' })).stdout.trim()).toBe('10.0.0.5 127.0.0.1')
    expect((await withLib(bound, { DEMO_BIND: '0.0.0.0', HTTP_HOST: '127.0.0.1' })).stdout.trim()).toBe('0.0.0.0 127.0.0.1')
  })

  it('reaches a wildcard bind through loopback', async () => {
    const local = 'for h in 0.0.0.0 :: 127.0.0.1 10.0.0.5 ::1; do printf "%s " "$(local_addr "$h")"; done'
    expect((await withLib(local)).stdout.trim()).toBe('127.0.0.1 127.0.0.1 127.0.0.1 10.0.0.5 [::1]')
  })

  it('is what quickstart.sh does before it starts anything', async () => {
    const script = await readFile(join(root, 'scripts/quickstart.sh'), 'utf8')
    expect(script.indexOf('demo_bind')).toBeGreaterThan(0)
    expect(script.indexOf('demo_bind')).toBeLessThan(script.indexOf('node dist/src/main.js'))
  })
})

describe('installing InfluxDB', () => {
  it('says what it installs, how, why, and how to avoid it, before it installs', async () => {
    // No influxd on this PATH; apt_install replaced by a stub that records its call.
    const { stdout, stderr } = await withLib('PATH=/nonexistent; apt_install() { echo "apt_install $*"; }; ensure_influxd')
    expect(stdout.trim()).toBe('apt_install influxdb')
    expect(stderr).toMatch(/Debian's influxdb package/)
    expect(stderr).toMatch(/system-wide/)
    expect(stderr).toMatch(/apt-get/)
    expect(stderr).toMatch(/needs root or sudo/)
    expect(stderr).toMatch(/INFLUX_URL/)
  })

  it('installs nothing when INFLUXD_BIN names one', async () => {
    const { stdout, stderr } = await withLib('PATH=/nonexistent; apt_install() { echo "apt_install $*"; }; ensure_influxd', { INFLUXD_BIN: '/opt/influxd' })
    expect(stdout + stderr).toBe('')
  })
})

describe('the README and docs say what works', () => {
  async function docs(): Promise<[string, string][]> {
    const files = ['README.md', ...(await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'scripts/quickstart.sh', 'scripts/lib.sh', 'scripts/test.sh']
    return Promise.all(files.map(async (f) => [f, await readFile(join(root, f), 'utf8')] as [string, string]))
  }

  it('never tells anyone to run `open` (macOS only; Debian has xdg-open)', async () => {
    for (const [file, text] of await docs()) {
      const commands = text.split('\n').filter((l) => /(^|[;&|`$(]\s*)open\s+(https?:|\S+\.html)/.test(l.trim()))
      expect(commands, file).toEqual([])
    }
  })

  it('uses only real variables in its InfluxDB example, and the example selects the 2.x/3.x API its token is for', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8')
    const line = readme.split('\n').find((l) => /INFLUX_TOKEN=.*bash scripts\/quickstart\.sh/.test(l))
    expect(line).toBeDefined()
    const env = Object.fromEntries([...line!.matchAll(/\b([A-Z][A-Z0-9_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]))
    for (const name of Object.keys(env)) expect(Object.keys(envSchema.shape), name).toContain(name)
    const config = loadConfig(env)
    expect(config.influx).toMatchObject({ flavor: 'v2', token: env.INFLUX_TOKEN, org: env.INFLUX_ORG, bucket: env.INFLUX_BUCKET })
  })
})
