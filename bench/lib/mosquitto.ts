import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort, retryWhilePortTaken } from '../../src/devtools/local-influxd.js'
import { benchTempDir, removeTempDir } from './interrupt.js'

export interface TestMosquitto {
  readonly url: string
  readonly port: number
  readonly dir: string
  logs(): string
  dispose(): Promise<void>
}

function mosquittoBin(): string {
  if (process.env.MOSQUITTO_BIN) return process.env.MOSQUITTO_BIN
  return existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto'
}

/**
 * Debian's mosquitto as the external broker of worker-mode tests and the scaleout bench, on a free loopback port (it has
 * no port 0), with the given password and ACL files (generated from the registry by the test).
 * Queues for offline persistent sessions are unbounded here, so a count is exact (docs/scaling-out.md).
 */
export async function startTestMosquitto(
  files: { passwd: string; acl: string },
  tls?: { certFile: string; keyFile: string },
  opts: { pickPort?: () => Promise<number> } = {},
): Promise<TestMosquitto> {
  const dir = benchTempDir('iiot-mosquitto-')
  await writeFile(join(dir, 'passwd'), files.passwd, { mode: 0o600 })
  await writeFile(join(dir, 'acl'), files.acl, { mode: 0o600 })
  try {
    return await retryWhilePortTaken(async () => launch(dir, await (opts.pickPort ?? freePort)(), tls))
  } catch (err) {
    await removeTempDir(dir)
    throw err
  }
}

async function launch(dir: string, port: number, tls: { certFile: string; keyFile: string } | undefined): Promise<TestMosquitto> {
  const conf = [
    `listener ${port} 127.0.0.1`,
    // TLS on the one listener when asked (worker mode over mqtts://).
    ...(tls ? [`certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`] : []),
    'allow_anonymous false',
    `password_file ${join(dir, 'passwd')}`,
    `acl_file ${join(dir, 'acl')}`,
    'persistence false',
    'max_queued_messages 0',
    'max_inflight_messages 20',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    // "... running" is logged once every listener is bound: the sign that the port is mosquitto's, not another process's.
    'log_type information',
    // As root, mosquitto would switch to its own user and lose access to the temp dir.
    ...(userInfo().uid === 0 ? ['user root'] : []),
  ]
  await writeFile(join(dir, 'mosquitto.conf'), conf.join('\n') + '\n')
  const child: ChildProcess = spawn(mosquittoBin(), ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const closed = new Promise((r) => child.once('close', r))
  const deadline = Date.now() + 10_000
  while (!/ running\b/.test(output)) {
    if (child.exitCode !== null) {
      await closed // all of its output read
      throw new Error(`mosquitto exited with ${child.exitCode}: ${output}`)
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`mosquitto did not listen on ${port}: ${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    dir,
    logs: () => output,
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      await removeTempDir(dir)
    },
  }
}
