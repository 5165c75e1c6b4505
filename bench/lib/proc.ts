import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { procStat } from '../../src/proc-stat.js'

/** Linux /proc readers for the processes the bench measures (the service, influxd, the bare broker). */

let ticksPerSecond: number | undefined
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** User + system CPU seconds the process has used; undefined when it is gone (or not on Linux). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  // utime and stime, fields 14 and 15.
  const fields = pid === undefined ? undefined : procStat(pid)
  return fields && (Number(fields[11]) + Number(fields[12])) / clockTicks()
}

/** Current (VmRSS) and peak (VmHWM) resident memory in MB. */
export function memoryMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
  } catch {
    return undefined
  }
}

/** Whether process `pid` exists and its command line contains every one of `parts`. */
export function pidMatches(pid: number, parts: readonly string[]): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
    return parts.every((p) => cmd.includes(p))
  } catch {
    return false
  }
}

/** The first process whose command line contains every one of `parts` (bounded scan of /proc). */
export function findPid(parts: readonly string[]): number | undefined {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e))
  } catch {
    return undefined
  }
  for (const e of entries.slice(0, 100_000)) {
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (parts.every((p) => cmd.includes(p))) return Number(e)
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

/**
 * Every live process below `root` (children, their children, ...), from each process's parent
 * in /proc/<pid>/stat; zombies not yet reaped are left out. Empty where there is no /proc.
 */
export function descendantPids(root: number): number[] {
  const parentOf = new Map<number, number>()
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e))
  } catch {
    return []
  }
  for (const e of entries) {
    // Gone meanwhile: no fields.
    const [state, ppid] = procStat(e) ?? ['Z']
    if (state !== 'Z') parentOf.set(Number(e), Number(ppid))
  }
  const below = new Set<number>([root])
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, ppid] of parentOf) {
      if (!below.has(pid) && below.has(ppid)) {
        below.add(pid)
        grew = true
      }
    }
  }
  below.delete(root)
  return [...below]
}
