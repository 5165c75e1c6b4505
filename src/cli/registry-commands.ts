import { chmod, readFile, rename, writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_TIME_ZONE } from '../domain/shifts.js'
import { buildDemoRegistry } from '../registry/demo-registry.js'
import { mosquittoHash } from '../registry/mosquitto-hash.js'
import type { ApiKeyScope } from '../registry/registry-schema.js'
import { mosquittoConfigCommand, type MosquittoConfigEnv } from './mosquitto-config-command.js'
import {
  addApiKey,
  addFactory,
  addGateway,
  addLine,
  addMachine,
  addZone,
  check,
  checkChosenSecret,
  emptyRegistry,
  normalize,
  parseScope,
  removeApiKey,
  removeGateway,
  rotateApiKey,
  rotateGatewaySecret,
  type RegistryDoc,
} from '../registry/registry-editor.js'

export const USAGE = `usage: iiot-registry <command> [options]   (npm run registry -- <command> ...)

  init            --file F                                   create an empty registry
  add-zone        --id Z [--name N]
  add-factory     --zone Z --id F [--name N] [--timezone TZ]   TZ: IANA time zone, default ${DEFAULT_TIME_ZONE}
  add-line        --factory F --id L
  add-machine     --factory F --line L --id M --ideal-cycle-time SECONDS
  add-gateway     --id G --factory F [--broker-hash]         prints the gateway's secret once
                  (--broker-hash: also keep a Mosquitto hash of it, for mosquitto-config)
  add-key         --id K --scope all|zone:Z|factory:F        prints the API key once
  rotate-gateway-secret --id G [--secret-stdin] [--broker-hash]
                  a new secret, printed once (--secret-stdin: the one on stdin, not printed); factory and
                  Sparkplug edge nodes kept; the service closes connections made with the old one on reload
                  (a Mosquitto hash it has is renewed; --broker-hash: also keep one)
  rotate-key      --id K [--secret-stdin]                    a new secret for the key, printed once; scope kept
  remove-gateway  --id G
  remove-key      --id K
  check                                                      validate the file
  mosquitto-config --out DIR                                 Mosquitto passwd and acl files from the registry
                  (service user: $BROKER_USERNAME / $BROKER_PASSWORD; docs/scaling-out.md)
  demo            [--zones 1] [--factories 2] [--lines 2] [--machines 4]
                  [--credentials data/simulator.json] [--mqtt-url mqtt://127.0.0.1:1883] [--force]

  --file F defaults to $REGISTRY_FILE or ./data/registry.json. The running
  service reloads the file when it changes (or on SIGHUP); connections stay up.`

async function load(file: string): Promise<RegistryDoc> {
  return normalize(JSON.parse(await readFile(file, 'utf8')))
}

async function save(file: string, doc: RegistryDoc): Promise<void> {
  check(doc)
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, file) // atomic: the service never reads a half-written file
}

/** `zone/factory` of a factory id (the edit has already checked that it exists). */
function factoryPath(doc: RegistryDoc, factory: string): string {
  const zone = doc.zones.find((z) => z.factories.some((f) => f.id === factory))
  return `${zone?.id ?? '?'}/${factory}`
}

function scopeText(scope: ApiKeyScope): string {
  if ('all' in scope) return 'all'
  return 'zone' in scope ? `zone:${scope.zone}` : `factory:${scope.factory}`
}

/** "1 zone, 2 factories, ..." for `check`. */
function contents(doc: RegistryDoc): string {
  const factories = doc.zones.flatMap((z) => z.factories)
  const lines = factories.flatMap((f) => f.lines)
  const counts: [number, string, string][] = [
    [doc.zones.length, 'zone', 'zones'],
    [factories.length, 'factory', 'factories'],
    [lines.length, 'line', 'lines'],
    [lines.reduce((n, l) => n + l.machines.length, 0), 'machine', 'machines'],
    [doc.gateways.length, 'gateway', 'gateways'],
    [doc.apiKeys.length, 'API key', 'API keys'],
  ]
  return counts.map(([n, one, many]) => `${n} ${n === 1 ? one : many}`).join(', ')
}

/** All of stdin, for --secret-stdin; refused from a terminal, where the secret would be echoed. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new Error('--secret-stdin reads the secret from a pipe or a file (e.g. < secret.txt), not from a terminal')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

/** The secret given on stdin: one line (its line end dropped), checked as checkChosenSecret says. */
async function chosenSecret(input: () => Promise<string>): Promise<string> {
  const text = (await input()).replace(/\r?\n$/, '')
  if (text === '') throw new Error('--secret-stdin: nothing on stdin')
  return checkChosenSecret(text)
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  )
}

/**
 * Runs one registry command (the CLI's arguments, without node and the script): edits the file and
 * reports what it did through `out`, one line each. Throws on bad arguments or an invalid edit,
 * which then changes nothing.
 */
export async function runRegistryCommand(
  argv: readonly string[],
  env: { readonly REGISTRY_FILE?: string | undefined } & MosquittoConfigEnv,
  out: (line: string) => void,
  input: () => Promise<string> = readStdin,
): Promise<void> {
  const { positionals, values: v } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      file: { type: 'string', default: env.REGISTRY_FILE || './data/registry.json' },
      id: { type: 'string' },
      name: { type: 'string' },
      zone: { type: 'string' },
      factory: { type: 'string' },
      line: { type: 'string' },
      timezone: { type: 'string' },
      'ideal-cycle-time': { type: 'string' },
      scope: { type: 'string' },
      zones: { type: 'string', default: '1' },
      factories: { type: 'string', default: '2' },
      lines: { type: 'string', default: '2' },
      machines: { type: 'string', default: '4' },
      credentials: { type: 'string', default: './data/simulator.json' },
      'mqtt-url': { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      force: { type: 'boolean', default: false },
      'broker-hash': { type: 'boolean', default: false },
      'secret-stdin': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const command = positionals[0]
  if (!command || v.help) {
    out(USAGE)
    return
  }
  const need = (name: keyof typeof v): string => {
    const value = v[name]
    if (typeof value !== 'string' || value === '') throw new Error(`--${name} is required for ${command}`)
    return value
  }
  const file = v.file!
  // The confirmation (and a new secret) is printed only once the edit is saved: a secret shown for an
  // edit that failed would authenticate nothing.
  const edit = async (fn: (doc: RegistryDoc) => Promise<string> | string) => {
    const doc = await load(file)
    const done = await fn(doc)
    await save(file, doc)
    out(done)
  }

  switch (command) {
    case 'init':
      if (await exists(file)) throw new Error(`${file} already exists`)
      await save(file, emptyRegistry())
      out(`created an empty registry in ${file}`)
      return
    case 'add-zone':
      return edit((d) => {
        addZone(d, need('id'), v.name)
        return `added zone ${v.id}${v.name ? ` (${JSON.stringify(v.name)})` : ''} to ${file}`
      })
    case 'add-factory':
      return edit((d) => {
        addFactory(d, need('zone'), { id: need('id'), ...(v.name ? { name: v.name } : {}), ...(v.timezone ? { timezone: v.timezone } : {}) })
        // The CLI adds no shift calendar; say what that means for OEE (docs/api.md, "OEE").
        return `added factory ${v.id} to zone ${v.zone} in ${file} (time zone ${v.timezone ?? DEFAULT_TIME_ZONE}; no shift calendar, so OEE plans it 24/7: edit "shifts" in the file to change that)`
      })
    case 'add-line':
      return edit((d) => {
        addLine(d, need('factory'), need('id'), v.name)
        return `added line ${v.id} to ${factoryPath(d, v.factory!)} in ${file}`
      })
    case 'add-machine': {
      const ideal = Number(need('ideal-cycle-time'))
      if (!Number.isFinite(ideal)) throw new Error(`--ideal-cycle-time must be a number of seconds, got "${v['ideal-cycle-time']}"`)
      return edit((d) => {
        addMachine(d, need('factory'), need('line'), { id: need('id'), idealCycleTimeS: ideal })
        return `added machine ${v.id} (ideal cycle time ${ideal} s) to ${factoryPath(d, v.factory!)}/${v.line} in ${file}`
      })
    }
    case 'add-gateway':
      return edit(async (d) => {
        const secret = await addGateway(d, need('id'), need('factory'))
        // Only on request: a second hash of the secret, in Mosquitto's weaker format (docs/scaling-out.md).
        if (v['broker-hash']) d.gateways.find((g) => g.id === v.id)!.brokerHash = await mosquittoHash(secret)
        return `added gateway ${v.id} to ${factoryPath(d, v.factory!)} in ${file}. MQTT username: ${v.id}  password (shown once): ${secret}`
      })
    case 'add-key':
      return edit(async (d) => {
        const scope = parseScope(need('scope'))
        const key = await addApiKey(d, need('id'), scope, v.name)
        return `added API key ${v.id} (scope ${scopeText(scope)}) to ${file}. Use (shown once): Authorization: Bearer ${key}`
      })
    case 'rotate-gateway-secret': {
      const chosen = v['secret-stdin'] ? await chosenSecret(input) : undefined
      return edit(async (d) => {
        const secret = await rotateGatewaySecret(d, need('id'), { chosen, brokerHash: v['broker-hash']! })
        const gw = d.gateways.find((g) => g.id === v.id)!
        const mosquitto = gw.brokerHash ? ' Its Mosquitto hash is renewed too: re-run mosquitto-config and reload Mosquitto.' : ''
        return `rotated the secret of gateway ${v.id} (of ${factoryPath(d, gw.factory)}) in ${file}; from the service's next reload the old one is refused and connections made with it are closed.${mosquitto} MQTT username: ${v.id}  ${chosen === undefined ? `password (shown once): ${secret}` : 'password: the one given on stdin'}`
      })
    }
    case 'rotate-key': {
      const chosen = v['secret-stdin'] ? await chosenSecret(input) : undefined
      return edit(async (d) => {
        const key = await rotateApiKey(d, need('id'), chosen)
        const scope = scopeText(d.apiKeys.find((k) => k.id === v.id)!.scope)
        return `rotated the secret of API key ${v.id} (scope ${scope}) in ${file}; from the service's next reload the old one is refused. Use ${chosen === undefined ? `(shown once): Authorization: Bearer ${key}` : `Authorization: Bearer ${v.id}.<the secret given on stdin>`}`
      })
    }
    case 'remove-gateway':
      return edit((d) => {
        const gw = d.gateways.find((g) => g.id === v.id)
        removeGateway(d, need('id'))
        return `removed gateway ${v.id} (of ${factoryPath(d, gw!.factory)}) from ${file}`
      })
    case 'remove-key':
      return edit((d) => {
        const key = d.apiKeys.find((k) => k.id === v.id)
        removeApiKey(d, need('id'))
        return `removed API key ${v.id} (scope ${scopeText(key!.scope)}) from ${file}`
      })
    case 'check': {
      const doc = check(await load(file))
      out(`${file} is valid: ${contents(doc)}`)
      return
    }
    case 'mosquitto-config':
      out(await mosquittoConfigCommand(file, need('out'), env))
      return
    case 'demo': {
      if (!v.force && (await exists(file))) throw new Error(`${file} already exists (use --force to overwrite)`)
      const shape = { zones: Number(v.zones), factoriesPerZone: Number(v.factories), linesPerFactory: Number(v.lines), machinesPerLine: Number(v.machines) }
      const { doc, credentials, apiKey } = await buildDemoRegistry(shape, v['mqtt-url']!)
      await save(file, doc)
      await mkdir(dirname(v.credentials!), { recursive: true })
      await writeFile(v.credentials!, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 })
      await chmod(v.credentials!, 0o600)
      await writeFile(`${dirname(file)}/demo-api-key`, apiKey + '\n', { mode: 0o600 })
      out(`demo registry written to ${file}; simulator credentials to ${v.credentials}; API key in ${dirname(file)}/demo-api-key`)
      return
    }
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`)
  }
}

