import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runRegistryCommand } from '../../src/cli/registry-commands.js'
import { mosquittoHash, verifyMosquittoHash } from '../../src/registry/mosquitto-hash.js'
import { Registry } from '../../src/registry/registry.js'
import { SECRETS } from '../helpers/fixtures.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'

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

// Regression: a gateway's secret could not be changed with the CLI (add-gateway on its id: "defined
// twice"; remove-gateway refused for a Sparkplug edge node's gateway), nor an API key's.
describe('registry CLI: rotating a secret keeps everything else', () => {
  let rotFile: string
  const GW_B_MOSQUITTO_SECRET = SECRETS.gwB

  async function rot(argv: string[], stdin?: string): Promise<string[]> {
    const lines: string[] = []
    await runRegistryCommand([...argv, '--file', rotFile], {}, (l) => lines.push(l), async () => stdin ?? '')
    return lines
  }
  const load = async () => Registry.fromJson(JSON.parse(await readFile(rotFile, 'utf8')))
  const raw = async () => JSON.parse(await readFile(rotFile, 'utf8')) as { gateways: { id: string; secretHash: string; brokerHash?: string }[]; apiKeys: { id: string; secretHash: string }[] }
  /** The file without the secret hashes: what a rotation must leave as it was. */
  const withoutHashes = async () => JSON.stringify(await raw(), (k, value: unknown) => (k === 'secretHash' || k === 'brokerHash' ? undefined : value))

  beforeAll(async () => {
    rotFile = join(dir, 'rotate.json')
    // gw-a is the Sparkplug edge node edge-1 (group plant-a); gw-b also has a Mosquitto hash.
    const doc = (await sparkplugRegistry()) as { gateways: { id: string; brokerHash?: string }[] }
    doc.gateways.find((g) => g.id === 'gw-b')!.brokerHash = await mosquittoHash(GW_B_MOSQUITTO_SECRET)
    await writeFile(rotFile, JSON.stringify(doc, null, 2))
  })

  it('rotate-gateway-secret gives a Sparkplug edge node\'s gateway a new secret, printed once; the old one no longer authenticates', async () => {
    const before = await withoutHashes()
    const otherBefore = (await raw()).gateways.find((g) => g.id === 'gw-b')
    const lines = await rot(['rotate-gateway-secret', '--id', 'gw-a'])
    expect(lines).toHaveLength(1)
    const secret = /^rotated the secret of gateway gw-a \(of za\/fa\) in .+; from the service's next reload the old one is refused and connections made with it are closed\. MQTT username: gw-a {2}password \(shown once\): (\S{43})$/.exec(lines[0]!)?.[1]
    expect(secret).toBeDefined()
    const registry = await load()
    expect(await registry.authenticateGateway('gw-a', secret!)).toMatchObject({ zone: 'za', factory: 'fa', sparkplugNodes: ['plant-a/edge-1'] })
    expect(await registry.authenticateGateway('gw-a', SECRETS.gwA)).toBeUndefined()
    expect(registry.sparkplugNode('plant-a', 'edge-1')?.gateway).toBe('gw-a')
    expect(await withoutHashes()).toBe(before)
    expect((await raw()).gateways.find((g) => g.id === 'gw-b')).toEqual(otherBefore)
    expect((await raw()).gateways.find((g) => g.id === 'gw-a')!.brokerHash).toBeUndefined()
  })

  it('renews a Mosquitto hash the gateway has, and makes one with --broker-hash', async () => {
    const [line] = await rot(['rotate-gateway-secret', '--id', 'gw-b'])
    expect(line).toContain('Its Mosquitto hash is renewed too: re-run mosquitto-config and reload Mosquitto.')
    const secret = /password \(shown once\): (\S+)$/.exec(line!)?.[1]
    const gwB = (await raw()).gateways.find((g) => g.id === 'gw-b')!
    expect(await verifyMosquittoHash(secret!, gwB.brokerHash!)).toBe(true)
    expect(await verifyMosquittoHash(GW_B_MOSQUITTO_SECRET, gwB.brokerHash!)).toBe(false)

    const [withHash] = await rot(['rotate-gateway-secret', '--id', 'gw-a', '--broker-hash'])
    const secretA = /password \(shown once\): (\S+)$/.exec(withHash!)?.[1]
    expect(await verifyMosquittoHash(secretA!, (await raw()).gateways.find((g) => g.id === 'gw-a')!.brokerHash!)).toBe(true)
  })

  it('--secret-stdin sets the secret given on stdin and does not print it', async () => {
    const chosen = 'chosen-gateway-secret-0123456789'
    const lines = await rot(['rotate-gateway-secret', '--id', 'gw-a', '--secret-stdin'], `${chosen}\n`)
    expect(lines[0]).toMatch(/MQTT username: gw-a {2}password: the one given on stdin$/)
    expect(lines[0]).not.toContain(chosen)
    const registry = await load()
    expect(await registry.authenticateGateway('gw-a', chosen)).toBeDefined()
  })

  it('refuses a chosen secret that is empty, short or holds whitespace, and an unknown gateway, changing nothing', async () => {
    const before = await readFile(rotFile, 'utf8')
    await expect(rot(['rotate-gateway-secret', '--id', 'gw-a', '--secret-stdin'], '')).rejects.toThrow('--secret-stdin: nothing on stdin')
    await expect(rot(['rotate-gateway-secret', '--id', 'gw-a', '--secret-stdin'], 'short\n')).rejects.toThrow('at least 16 characters')
    await expect(rot(['rotate-gateway-secret', '--id', 'gw-a', '--secret-stdin'], 'two words-0123456789\n')).rejects.toThrow('must not contain whitespace')
    await expect(rot(['rotate-gateway-secret', '--id', 'gw-a', '--secret-stdin'], 'line-one-0123456789\nline-two\n')).rejects.toThrow('must not contain whitespace')
    await expect(rot(['rotate-gateway-secret', '--id', 'gw-x'])).rejects.toThrow('unknown gateway "gw-x"')
    await expect(rot(['rotate-gateway-secret'])).rejects.toThrow('--id is required for rotate-gateway-secret')
    await expect(rot(['rotate-key', '--id', 'nobody'])).rejects.toThrow('unknown API key "nobody"')
    expect(await readFile(rotFile, 'utf8')).toBe(before)
  })

  it('rotate-key gives an API key a new secret, printed once, keeping its scope; the old key no longer authenticates', async () => {
    const before = await withoutHashes()
    const lines = await rot(['rotate-key', '--id', 'eng-a'])
    expect(lines).toHaveLength(1)
    const key = /^rotated the secret of API key eng-a \(scope factory:fa\) in .+; from the service's next reload the old one is refused\. Use \(shown once\): Authorization: Bearer (eng-a\.\S{43})$/.exec(lines[0]!)?.[1]
    expect(key).toBeDefined()
    const registry = await load()
    expect(await registry.authenticateApiKey(key!)).toEqual({ id: 'eng-a', scope: { factory: 'fa' } })
    expect(await registry.authenticateApiKey(`eng-a.${SECRETS.keyA}`)).toBeUndefined()
    expect(await registry.authenticateApiKey(`ops.${SECRETS.keyAll}`)).toEqual({ id: 'ops', scope: { all: true } })
    expect(await withoutHashes()).toBe(before)
  })

  it('rotate-key --secret-stdin sets the secret given on stdin and does not print it', async () => {
    const chosen = 'chosen-key-secret-0123456789'
    const lines = await rot(['rotate-key', '--id', 'board', '--secret-stdin'], `${chosen}\r\n`)
    expect(lines).toEqual([`rotated the secret of API key board (scope zone:zb) in ${rotFile}; from the service's next reload the old one is refused. Use Authorization: Bearer board.<the secret given on stdin>`])
    expect(await (await load()).authenticateApiKey(`board.${chosen}`)).toEqual({ id: 'board', scope: { zone: 'zb' } })
  })
})
