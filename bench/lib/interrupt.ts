import { mkdtempSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { descendantPids } from './proc.js'

/**
 * What the bench does when it is told to stop (SIGINT, SIGTERM, SIGHUP: Ctrl-C, a CI timeout, a
 * supervisor, a closed terminal): it stops every process it started, removes its temp dirs, says so
 * in one line and exits 128 + the signal's number (130, 143, 129). A second signal exits at once.
 *
 * Everything a bench run starts is throwaway (influxd, the service, mosquitto, the bare broker:
 * their data lives in the run's temp dirs), so nothing is gained by stopping them gracefully: they
 * get SIGKILL, and the service no drain. They are found as the bench's descendants in /proc, not
 * from a list kept by each starter, so one still starting (influxd before it answers /ping) is
 * found too. They stay in the bench's process group: a terminal's Ctrl-C reaches them as well
 * (influxd and mosquitto stop by themselves, the service starts its drain, which the SIGKILL cuts
 * short), and it still would if the bench itself had died without cleaning up.
 */

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM']

const tempDirs = new Set<string>()

/** A temp dir for the run (`$TMPDIR/<prefix>XXXXXX`), removed on an interrupt unless removeTempDir got there first. Synchronous, so no interrupt finds one half made. */
export function benchTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** What an interrupt acts on; the defaults are this process's, tests give their own. */
export interface InterruptPorts {
  /** The live processes below the bench. */
  descendants(): number[]
  kill(pid: number): void
  /** Removes what is left of the run's temp dirs (synchronously: nothing runs between it and the exit). */
  removeTempDirs(): void
  write(line: string): void
  exit(code: number): void
  sleep(ms: number): Promise<void>
}

const processPorts: InterruptPorts = {
  descendants: () => descendantPids(process.pid),
  kill(pid) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  },
  removeTempDirs() {
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true })
      } catch {
        // best effort: the exit must not wait for it
      }
      tempDirs.delete(dir)
    }
  },
  write: (line) => process.stderr.write(line),
  exit: (code) => process.exit(code),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
}

/** How long an interrupt keeps killing what the still-running scenario may start before it exits anyway. */
const GIVE_UP_MS = 5000

export class Interrupt {
  private signal: NodeJS.Signals | undefined
  private exited = false

  constructor(private readonly ports: InterruptPorts = processPorts) {}

  /** The signal that interrupted the run, if one did. */
  get by(): NodeJS.Signals | undefined {
    return this.signal
  }

  static exitCode(signal: NodeJS.Signals): number {
    return 128 + constants.signals[signal]
  }

  /** Handles one stop signal; resolves when its clean-up is over (the process has exited by then, unless `exit` is a test's). */
  async receive(signal: NodeJS.Signals): Promise<void> {
    const p = this.ports
    const first = this.signal
    if (first) {
      // The second: whatever is left is killed without waiting for it; the temp dirs may stay.
      for (const pid of p.descendants()) p.kill(pid)
      p.write(`bench: ${signal} again: exiting now\n`)
      this.exit(first)
      return
    }
    this.signal = signal
    p.write(`bench: interrupted by ${signal}: stopping the processes it started and removing its temp dirs (${signal} again to exit at once)\n`)
    // The scenario is still running meanwhile, and may start something more: kill until nothing is left.
    const deadline = Date.now() + GIVE_UP_MS
    for (;;) {
      const left = p.descendants()
      if (left.length === 0 || Date.now() > deadline || this.exited) break
      for (const pid of left) p.kill(pid)
      await p.sleep(20)
    }
    if (this.exited) return
    p.removeTempDirs()
    this.exit(signal)
  }

  private exit(signal: NodeJS.Signals): void {
    if (this.exited) return
    this.exited = true
    this.ports.exit(Interrupt.exitCode(signal))
  }
}

let installed: Interrupt | undefined

/**
 * Installs the handlers of SIGINT, SIGTERM and SIGHUP for the bench process (run.ts, first thing).
 * Once interrupted, errors of the scenario still running (an influxd gone under it) are no longer
 * reported: the run is being abandoned.
 */
export function installInterruptHandlers(): Interrupt {
  if (installed) return installed
  const interrupt = new Interrupt()
  installed = interrupt
  const ignore = () => undefined
  for (const s of STOP_SIGNALS) {
    process.on(s, (signal: NodeJS.Signals) => {
      if (interrupt.by === undefined) {
        process.on('uncaughtException', ignore)
        process.on('unhandledRejection', ignore)
      }
      void interrupt.receive(signal)
    })
  }
  return interrupt
}

/** Whether the run has been interrupted (progress lines stop, results are not printed). */
export function interrupted(): boolean {
  return installed?.by !== undefined
}
