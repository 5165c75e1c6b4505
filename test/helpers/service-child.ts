import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localServiceEnv, ServiceProcess } from '../../bench/lib/service-process.js'
import { freePort } from '../../src/devtools/local-influxd.js'
import { testRegistry } from './fixtures.js'
import { startTestInfluxd } from './influxd.js'

export interface ChildService {
  readonly influxd: Awaited<ReturnType<typeof startTestInfluxd>>
  readonly service: ServiceProcess
  readonly env: Readonly<Record<string, string>>
  readonly httpUrl: string
  readonly database: string
  /** Stops the service and influxd and removes the data. */
  dispose(): Promise<void>
}

/**
 * The service as a process of its own (from source, so a stale dist is never what is tested), with
 * the test registry and a throwaway influxd: for tests that kill it.
 */
export async function startChildService(database: string, extraEnv: Record<string, string> = {}): Promise<ChildService> {
  const influxd = await startTestInfluxd()
  const dir = await mkdtemp(join(tmpdir(), `iiot-${database}-`))
  await writeFile(join(dir, 'registry.json'), JSON.stringify(await testRegistry()))
  const [mqttPort, httpPort] = [await freePort(), await freePort()]
  const httpUrl = `http://127.0.0.1:${httpPort}`
  const env = { ...localServiceEnv({ dataDir: dir, registryFile: join(dir, 'registry.json'), influxUrl: influxd.url, database, mqttPort, httpPort }), ...extraEnv }
  process.env.IIOT_SERVICE_FROM_SOURCE = '1'
  const service = new ServiceProcess(env, httpUrl)
  try {
    await service.start()
  } catch (err) {
    await service.stop()
    await influxd.dispose()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    influxd,
    service,
    env,
    httpUrl,
    database,
    async dispose() {
      await service.stop()
      await influxd.dispose()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
