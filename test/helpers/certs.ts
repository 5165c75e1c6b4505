import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Issued {
  readonly cert: string
  readonly key: string
}

export interface TestCa {
  readonly dir: string
  readonly cert: string
  readonly key: string
  /** The broker certificate: SANs for localhost and 127.0.0.1, extendedKeyUsage serverAuth. */
  issueBroker(name?: string): Promise<Issued>
  /** A gateway certificate: CN and a DNS SAN naming the gateway, extendedKeyUsage clientAuth. */
  issueGateway(id: string, opts?: { sans?: readonly string[]; name?: string }): Promise<Issued>
  read(path: string): Promise<Buffer>
}

// The same openssl commands as docs/security.md.
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A throwaway CA in `dir`, made with openssl exactly as docs/security.md shows. */
export async function createTestCa(dir: string, prefix = 'ca'): Promise<TestCa> {
  const cert = join(dir, `${prefix}.crt`)
  const key = join(dir, `${prefix}.key`)
  await openssl(dir, ['req', '-x509', ...EC, '-days', '3650', '-subj', `/CN=iiot test CA ${prefix}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', key, '-out', cert])

  async function issue(name: string, subject: string, ext: string): Promise<Issued> {
    const out = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
    await writeFile(join(dir, `${name}.ext`), ext)
    await openssl(dir, ['req', ...EC, '-subj', subject, '-keyout', out.key, '-out', join(dir, `${name}.csr`)])
    await openssl(dir, ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', cert, '-CAkey', key, '-CAcreateserial', '-days', '825', '-extfile', join(dir, `${name}.ext`), '-out', out.cert])
    return out
  }

  return {
    dir,
    cert,
    key,
    issueBroker: (name = 'broker') => issue(name, '/CN=localhost', 'subjectAltName=DNS:factory-broker,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    issueGateway: (id, opts = {}) =>
      issue(opts.name ?? id, `/CN=${id}`, `subjectAltName=${(opts.sans ?? [id]).map((s) => `DNS:${s}`).join(',')}\nextendedKeyUsage=clientAuth\n`),
    read: (path) => readFile(path),
  }
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 20_000 })
  } catch (err) {
    throw new Error(`openssl ${args[0]} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`)
  }
}
