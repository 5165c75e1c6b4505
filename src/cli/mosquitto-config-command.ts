import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mosquittoFiles } from '../registry/mosquitto-files.js'
import { mosquittoHash } from '../registry/mosquitto-hash.js'
import { registryFileSchema } from '../registry/registry-schema.js'
import { newSecret } from '../registry/secret-hash.js'

export interface MosquittoConfigEnv {
  readonly BROKER_USERNAME?: string | undefined
  readonly BROKER_PASSWORD?: string | undefined
  readonly BROKER_ANNOUNCE_TOPIC?: string | undefined
  readonly SPARKPLUG_HOST_ID?: string | undefined
}

/**
 * `iiot-registry mosquitto-config --out DIR`: writes DIR/passwd and DIR/acl for Mosquitto's
 * `password_file` and `acl_file` (docs/scaling-out.md). The service's own user (workers and API
 * nodes) gets BROKER_USERNAME / BROKER_PASSWORD from the environment; without a password one is
 * made and written to DIR/service-password, never printed.
 */
export async function mosquittoConfigCommand(file: string, out: string, env: MosquittoConfigEnv): Promise<string> {
  const doc = registryFileSchema.parse(JSON.parse(await readFile(file, 'utf8')))
  const serviceUser = env.BROKER_USERNAME || 'iiot-service'
  let password = env.BROKER_PASSWORD
  await mkdir(out, { recursive: true })
  // Run again after a registry change, it keeps the password it made the first time: a new one
  // would shut every worker and API node out of Mosquitto at its next reload.
  const kept = password ? undefined : (await readFile(join(out, 'service-password'), 'utf8').catch(() => '')).trim()
  if (!password && kept) password = kept
  const made = !password
  if (!password) {
    password = newSecret()
    await writeFile(join(out, 'service-password'), password + '\n', { mode: 0o600 })
  }
  const files = mosquittoFiles(doc, {
    serviceUser,
    serviceHash: await mosquittoHash(password),
    announceTopic: env.BROKER_ANNOUNCE_TOPIC || 'iiot-internal/v1/accepted',
    sparkplugHostId: env.SPARKPLUG_HOST_ID || 'iiot-ingest',
  })
  // Mosquitto reads both as its own user; they hold hashes, so not for everyone's eyes.
  for (const [name, text] of [['passwd', files.passwd], ['acl', files.acl]] as const) {
    await writeFile(join(out, name), text, { mode: 0o640 })
    await chmod(join(out, name), 0o640)
  }
  const missing = files.withoutBrokerHash.length > 0 ? `; gateways without a broker hash (they cannot log in to Mosquitto until given one with rotate-gateway-secret --broker-hash): ${files.withoutBrokerHash.join(', ')}` : ''
  return `wrote ${join(out, 'passwd')} and ${join(out, 'acl')} for ${doc.gateways.length} gateways and the service user ${serviceUser}${made ? ` (its password is in ${join(out, 'service-password')}: set it as BROKER_PASSWORD)` : kept ? ` (its password kept from ${join(out, 'service-password')})` : ''}${missing}; Mosquitto reads them as its own user (chgrp mosquitto them if you ran this as root)`
}
