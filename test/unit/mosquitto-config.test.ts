import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { mosquittoConfigCommand } from '../../src/cli/mosquitto-config-command.js'
import { testRegistry } from '../helpers/fixtures.js'
import { useTempDir } from '../helpers/temp-dir.js'

let dir = ''
useTempDir('iiot-mosq-', (d) => (dir = d))

describe('mosquitto-config', () => {
  it('keeps the service password it made when run again, so a re-run after a registry change shuts no worker out', async () => {
    const file = join(dir, 'registry.json')
    await writeFile(file, JSON.stringify(await testRegistry()))
    const out = join(dir, 'broker')
    const first = await mosquittoConfigCommand(file, out, {})
    const made = await readFile(join(out, 'service-password'), 'utf8')
    expect(first).toMatch(/its password is in .*service-password: set it as BROKER_PASSWORD/)
    const second = await mosquittoConfigCommand(file, out, {})
    expect(await readFile(join(out, 'service-password'), 'utf8')).toBe(made)
    expect(second).toMatch(/its password kept from .*service-password/)
    expect(second).toMatch(/chgrp mosquitto/)
  })
})
