import type { Logger } from 'pino'
import { LiveStateTable } from '../domain/live-state.js'
import type { MachineState } from '../domain/records.js'
import type { ManufacturingReader } from '../storage/ports.js'

/**
 * The live machine table as the service starts: seeded with what storage knows of each machine
 * over `lookbackMs` (last seen, current state and since when), then kept by the pipeline. When
 * storage cannot answer, the table starts empty and fills as messages arrive.
 */
export async function seededLiveTable(reader: Pick<ManufacturingReader, 'latestPerMachine'>, lookbackMs: number, log: Logger): Promise<LiveStateTable> {
  const live = new LiveStateTable()
  try {
    for (const [key, known] of await reader.latestPerMachine(lookbackMs)) {
      const st = known.state
      live.seed(key, { lastSeenMs: known.lastSeenMs, ...(st ? { state: st.state as MachineState, reason: st.reason, alarms: st.alarms, sinceMs: st.sinceMs, stateTsMs: st.tsMs } : {}) })
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot seed the live machine table from InfluxDB; it fills as messages arrive')
  }
  return live
}
