import { readdirSync, readFileSync } from 'node:fs'
import { processExists } from '../../bench/lib/service-process.js'

/** The variable that marks every process a test run starts: children inherit their parent's environment. */
export const RUN_MARK_VARIABLE = 'IIOT_TEST_RUN_MARK'

export interface MarkedProcess {
  readonly pid: number
  readonly command: string
}

/**
 * Processes still running whose environment carries `RUN_MARK_VARIABLE=mark`,
 * except `exclude` (the caller and its own workers). A process keeps the
 * environment it was started with even when its parent dies and it is
 * re-parented, so an orphan is found too. Linux only (/proc); elsewhere none.
 */
export function markedProcesses(mark: string, exclude: ReadonlySet<number> = new Set()): MarkedProcess[] {
  const needle = `${RUN_MARK_VARIABLE}=${mark}`
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e))
  } catch {
    return []
  }
  const found: MarkedProcess[] = []
  for (const e of entries) {
    const pid = Number(e)
    if (exclude.has(pid)) continue
    try {
      if (!readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(needle)) continue
      if (!processExists(pid)) continue
      found.push({ pid, command: readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() })
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found
}
