import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalInfluxd, type LocalInfluxd } from '../../src/devtools/local-influxd.js'

/** A real influxd 1.x for one test file, on a free loopback port, data in a temp dir. */
export async function startTestInfluxd(): Promise<LocalInfluxd & { dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'iiot-influxd-'))
  const influxd = await startLocalInfluxd({ dataDir: dir })
  return {
    ...influxd,
    async dispose() {
      await influxd.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Runs an InfluxQL SELECT directly against InfluxDB (for assertions that bypass our API). */
export async function influxQuery(url: string, db: string, q: string): Promise<{ columns: string[]; values: unknown[][]; tags?: Record<string, string> }[]> {
  const res = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`)
  const body = (await res.json()) as { results: { error?: string; series?: { columns: string[]; values: unknown[][] }[] }[] }
  if (body.results[0]?.error) throw new Error(body.results[0].error)
  return body.results[0]?.series ?? []
}
