#!/usr/bin/env node
import { isAppError } from '../errors.js'
import { runRegistryCommand } from './registry-commands.js'

// `npm run registry -- <command>` (docs/registry.md): every command says on stdout what it did.
runRegistryCommand(process.argv.slice(2), process.env, (line) => process.stdout.write(line + '\n')).catch((err: unknown) => {
  process.stderr.write(`iiot-registry: ${isAppError(err) || err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
