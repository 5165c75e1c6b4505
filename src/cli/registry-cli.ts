#!/usr/bin/env node
import { chmod, readFile, rename, writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { isAppError } from '../errors.js'
import { buildDemoRegistry } from '../registry/demo-registry.js'
import {
  addApiKey,
  addFactory,
  addGateway,
  addLine,
  addMachine,
  addZone,
  check,
  emptyRegistry,
  normalize,
  parseScope,
  removeApiKey,
  removeGateway,
  type RegistryDoc,
} from '../registry/registry-editor.js'

const USAGE = `usage: iiot-registry <command> [options]   (npm run registry -- <command> ...)

  init            --file F                                   create an empty registry
  add-zone        --id Z [--name N]
  add-factory     --zone Z --id F [--name N] [--timezone TZ]
  add-line        --factory F --id L
  add-machine     --factory F --line L --id M --ideal-cycle-time SECONDS
  add-gateway     --id G --factory F                         prints the gateway's secret once
  add-key         --id K --scope all|zone:Z|factory:F        prints the API key once
  remove-gateway  --id G
  remove-key      --id K
  check                                                      validate the file
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

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  )
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values: v } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      file: { type: 'string', default: process.env.REGISTRY_FILE || './data/registry.json' },
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
      help: { type: 'boolean', short: 'h' },
    },
  })
  const command = positionals[0]
  if (!command || v.help) {
    process.stdout.write(USAGE + '\n')
    return
  }
  const need = (name: keyof typeof v): string => {
    const value = v[name]
    if (typeof value !== 'string' || value === '') throw new Error(`--${name} is required for ${command}`)
    return value
  }
  const file = v.file!
  const edit = async (fn: (doc: RegistryDoc) => Promise<void> | void) => {
    const doc = await load(file)
    await fn(doc)
    await save(file, doc)
  }

  switch (command) {
    case 'init':
      if (await exists(file)) throw new Error(`${file} already exists`)
      await save(file, emptyRegistry())
      process.stdout.write(`created ${file}\n`)
      return
    case 'add-zone':
      return edit((d) => void addZone(d, need('id'), v.name))
    case 'add-factory':
      return edit((d) => void addFactory(d, need('zone'), { id: need('id'), ...(v.name ? { name: v.name } : {}), ...(v.timezone ? { timezone: v.timezone } : {}) }))
    case 'add-line':
      return edit((d) => void addLine(d, need('factory'), need('id'), v.name))
    case 'add-machine': {
      const ideal = Number(need('ideal-cycle-time'))
      return edit((d) => void addMachine(d, need('factory'), need('line'), { id: need('id'), idealCycleTimeS: ideal }))
    }
    case 'add-gateway':
      return edit(async (d) => {
        const secret = await addGateway(d, need('id'), need('factory'))
        process.stdout.write(`gateway ${v.id} added. MQTT username: ${v.id}  password (shown once): ${secret}\n`)
      })
    case 'add-key':
      return edit(async (d) => {
        const key = await addApiKey(d, need('id'), parseScope(need('scope')), v.name)
        process.stdout.write(`API key ${v.id} added. Use (shown once): Authorization: Bearer ${key}\n`)
      })
    case 'remove-gateway':
      return edit((d) => void removeGateway(d, need('id')))
    case 'remove-key':
      return edit((d) => void removeApiKey(d, need('id')))
    case 'check':
      check(await load(file))
      process.stdout.write(`${file} is valid\n`)
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
      process.stdout.write(`demo registry written to ${file}; simulator credentials to ${v.credentials}; API key in ${dirname(file)}/demo-api-key\n`)
      return
    }
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`iiot-registry: ${isAppError(err) || err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
