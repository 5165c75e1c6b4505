import { readFileSync } from 'node:fs'

/**
 * The fields of /proc/<pid>/stat from the third on (state, parent's PID, ..., start time at index
 * 19), read past the command name, which may hold spaces and parentheses; undefined when the
 * process is gone or there is no /proc.
 */
export function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** When the process started, in clock ticks since boot (field 22); '' where unknown. */
export function processStartTime(pid: number): string {
  return procStat(pid)?.[19] ?? ''
}

/** Whether a process with this PID runs (one owned by another user counts; a zombie not yet reaped does not). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const state = procStat(pid)?.[0]
  // No /proc (not Linux): kill(0) is all there is to go by.
  return state !== 'Z' && (state !== undefined || process.platform !== 'linux')
}
