import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runRegistryCommand } from '../../src/cli/registry-commands.js'
import { Registry } from '../../src/registry/registry.js'

// Regression: add-zone, add-factory, add-line, add-machine, remove-gateway and remove-key printed
// nothing, so an operator could not tell what a command had done, or to what.
let dir: string
let file: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iiot-registry-cli-'))
  file = join(dir, 'registry.json')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function cli(...argv: string[]): Promise<string[]> {
  const lines: string[] = []
  await runRegistryCommand([...argv, '--file', file], {}, (l) => lines.push(l))
  return lines
}

describe('registry CLI: every command says what it did', () => {
  it('confirms each addition with what it added and where, secrets once', async () => {
    expect(await cli('init')).toEqual([`created an empty registry in ${file}`])
    expect(await cli('add-zone', '--id', 'shtp', '--name', 'Saigon Hi-Tech Park')).toEqual([`added zone shtp ("Saigon Hi-Tech Park") to ${file}`])
    expect(await cli('add-factory', '--zone', 'shtp', '--id', 'acme')).toEqual([
      `added factory acme to zone shtp in ${file} (time zone Asia/Ho_Chi_Minh; no shift calendar, so OEE plans it 24/7: edit "shifts" in the file to change that)`,
    ])
    expect(await cli('add-line', '--factory', 'acme', '--id', 'line-1')).toEqual([`added line line-1 to shtp/acme in ${file}`])
    expect(await cli('add-machine', '--factory', 'acme', '--line', 'line-1', '--id', 'cnc-7', '--ideal-cycle-time', '42')).toEqual([
      `added machine cnc-7 (ideal cycle time 42 s) to shtp/acme/line-1 in ${file}`,
    ])

    const gw = await cli('add-gateway', '--id', 'gw-1', '--factory', 'acme')
    expect(gw).toHaveLength(1)
    const secret = /^added gateway gw-1 to shtp\/acme in .+\. MQTT username: gw-1 {2}password \(shown once\): (\S+)$/.exec(gw[0]!)?.[1]
    expect(secret).toBeDefined()
    const key = await cli('add-key', '--id', 'eng', '--scope', 'factory:acme')
    const apiKey = /^added API key eng \(scope factory:acme\) to .+\. Use \(shown once\): Authorization: Bearer (\S+)$/.exec(key[0]!)?.[1]
    expect(apiKey).toBeDefined()

    const registry = Registry.fromJson(JSON.parse(await readFile(file, 'utf8')))
    expect(await registry.authenticateGateway('gw-1', secret!)).toMatchObject({ zone: 'shtp', factory: 'acme' })
    expect((await registry.authenticateApiKey(apiKey!))?.scope).toEqual({ factory: 'acme' })
    expect(await cli('check')).toEqual([`${file} is valid: 1 zone, 1 factory, 1 line, 1 machine, 1 gateway, 1 API key`])
  })

  it('confirms each removal, naming what was removed', async () => {
    expect(await cli('remove-gateway', '--id', 'gw-1')).toEqual([`removed gateway gw-1 (of shtp/acme) from ${file}`])
    expect(await cli('remove-key', '--id', 'eng')).toEqual([`removed API key eng (scope factory:acme) from ${file}`])
  })

  it('says nothing was done when an edit fails, and leaves the file unchanged', async () => {
    const before = await readFile(file, 'utf8')
    await expect(cli('add-gateway', '--id', 'gw-2', '--factory', 'nowhere')).rejects.toThrow('unknown factory "nowhere"')
    await expect(cli('add-machine', '--factory', 'acme', '--line', 'line-1', '--id', 'cnc-8', '--ideal-cycle-time', 'fast')).rejects.toThrow(/--ideal-cycle-time must be a number of seconds/)
    expect(await readFile(file, 'utf8')).toBe(before)
  })
})

describe('registry CLI: the time zone a factory gets by default', () => {
  it('the usage names the default of --timezone', async () => {
    const usage = (await cli('--help')).join('\n')
    expect(usage).toMatch(/add-factory +--zone Z --id F \[--name N\] \[--timezone TZ\] +TZ: IANA time zone, default Asia\/Ho_Chi_Minh/)
  })
})
