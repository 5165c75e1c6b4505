import { X509Certificate, createPrivateKey } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { SecureContextOptions } from 'node:tls'
import type { Logger } from 'pino'
import type { MqttCertificates } from '../config/config.js'
import { AppError } from '../errors.js'

/** The PEM material of the TLS listeners, checked: parsable, and the key matches the certificate. */
export interface TlsMaterial {
  readonly cert: Buffer
  readonly key: Buffer
  readonly ca: Buffer | undefined
  readonly notAfter: Date
}

// The variables behind each file, so that errors name what the operator sets.
const VARIABLE = { certFile: 'MQTT_TLS_CERT_FILE', keyFile: 'MQTT_TLS_KEY_FILE', caFile: 'MQTT_TLS_CA_FILE' } as const

/**
 * Reads and checks the certificate files. Every problem is reported at once,
 * naming its variable (IIOT_ERR_CONFIG_INVALID): start-up stops on it, and a
 * reload that fails keeps the previous material.
 */
export async function readTlsMaterial(files: MqttCertificates): Promise<TlsMaterial> {
  const problems: string[] = []
  const read = async (field: keyof typeof VARIABLE): Promise<Buffer | undefined> => {
    const path = files[field]
    if (path === undefined) return undefined
    try {
      return await readFile(path)
    } catch (err) {
      problems.push(`${VARIABLE[field]}: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      return undefined
    }
  }
  const [cert, key, ca] = [await read('certFile'), await read('keyFile'), await read('caFile')]
  if (files.certFile === undefined) problems.push(`${VARIABLE.certFile}: required for the TLS listeners`)
  if (files.keyFile === undefined) problems.push(`${VARIABLE.keyFile}: required for the TLS listeners`)
  const x509 = cert && parse(() => new X509Certificate(cert), `${VARIABLE.certFile}: not a PEM certificate`, problems)
  const privateKey = key && parse(() => createPrivateKey(key), `${VARIABLE.keyFile}: not a PEM private key (encrypted keys are not supported)`, problems)
  if (ca) parse(() => new X509Certificate(ca), `${VARIABLE.caFile}: not a PEM certificate`, problems)
  if (x509 && privateKey && !x509.checkPrivateKey(privateKey)) problems.push(`${VARIABLE.keyFile}: does not match the certificate in ${VARIABLE.certFile}`)
  if (problems.length > 0 || !cert || !key || !x509) {
    throw new AppError('IIOT_ERR_CONFIG_INVALID', `invalid TLS configuration:\n  ${problems.join('\n  ')}`, { details: problems })
  }
  return { cert, key, ca, notAfter: new Date(x509.validTo) }
}

function parse<T>(fn: () => T, message: string, problems: string[]): T | undefined {
  try {
    return fn()
  } catch {
    problems.push(message)
    return undefined
  }
}

/** Options for `tls.createServer` / `server.setSecureContext`. */
export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return { cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}), minVersion: 'TLSv1.2' }
}

const EXPIRY_WARNING_MS = 14 * 86_400_000

export function warnIfExpiring(material: TlsMaterial, log: Logger): void {
  const left = material.notAfter.getTime() - Date.now()
  if (left < EXPIRY_WARNING_MS) log.warn({ notAfter: material.notAfter.toISOString() }, left < 0 ? 'TLS certificate has expired' : 'TLS certificate expires soon')
}

/**
 * Watches the directories of the certificate files (tools such as certbot and
 * Kubernetes secret mounts replace files by rename or symlink swap, which a
 * watch on the file itself misses) and calls `onChange`, debounced.
 */
export function watchTlsFiles(files: MqttCertificates, onChange: () => void, log: Logger, debounceMs = 200): () => void {
  const paths = [files.certFile, files.keyFile, files.caFile].filter((p): p is string => p !== undefined)
  const names = new Set(paths.map((p) => basename(p)))
  let timer: NodeJS.Timeout | undefined
  const watchers: FSWatcher[] = []
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, (_event, name) => {
        // Secret mounts swap a "..data" symlink; any other unrelated file is ignored.
        if (name !== null && !names.has(name) && !name.startsWith('..')) return
        clearTimeout(timer)
        timer = setTimeout(onChange, debounceMs)
      })
      w.on('error', (err) => log.warn({ err, dir }, 'TLS certificate watch failed; reloadCertificates() still reloads'))
      watchers.push(w)
    } catch (err) {
      log.warn({ err, dir }, 'cannot watch the TLS certificate directory; reloadCertificates() still reloads')
    }
  }
  return () => {
    clearTimeout(timer)
    for (const w of watchers) w.close()
  }
}
