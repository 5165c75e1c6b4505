import { randomUUID } from 'node:crypto'
import { markedProcesses, RUN_MARK_VARIABLE } from './helpers/leftover-processes.js'

/**
 * Every process this test run starts (vitest's workers, and through them
 * every influxd, service and broker a test spawns) inherits a fresh mark in
 * its environment. When the run ends, any marked process still running was
 * left behind by a test: it is killed, and the run fails naming it.
 */
export function setup(): () => void {
  const mark = randomUUID()
  process.env[RUN_MARK_VARIABLE] = mark
  return () => {
    // Vitest's own workers may still be winding down: give them a moment, and never count them.
    const left = markedProcesses(mark, new Set([process.pid])).filter((p) => !/\bvitest\b/.test(p.command))
    if (left.length === 0) return
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    // Vitest reports an error thrown here but still exits 0: the exit code is set as well.
    process.exitCode = 1
    throw new Error(`the tests left ${left.length} process(es) running (now killed):\n${left.map((p) => `  ${p.pid} ${p.command}`).join('\n')}`)
  }
}
