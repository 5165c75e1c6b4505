import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { benchTempDir, Interrupt, removeTempDir, type InterruptPorts } from '../../bench/lib/interrupt.js'
import { descendantPids } from '../../bench/lib/proc.js'
import { processExists } from '../../bench/lib/service-process.js'

/** A process tree and an exit that the test watches instead of this process's. */
function fakePorts(tree: number[][]) {
  const log: string[] = []
  const killed: number[] = []
  let scans = 0
  let exitCode: number | undefined
  let dirsRemoved = 0
  const ports: InterruptPorts = {
    descendants: () => tree[Math.min(scans++, tree.length - 1)]!.filter((p) => !killed.includes(p)),
    kill: (pid) => void killed.push(pid),
    removeTempDirs: () => void dirsRemoved++,
    write: (line) => void log.push(line),
    exit: (code) => void (exitCode ??= code),
    sleep: () => new Promise((r) => setTimeout(r, 1)),
  }
  return { ports, log, killed, exitCode: () => exitCode, dirsRemoved: () => dirsRemoved }
}

describe('the bench on SIGINT, SIGTERM, SIGHUP', () => {
  it('kills what it started, removes its temp dirs, says so in one line and exits 128 + the signal', async () => {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const f = fakePorts([[11, 12]])
      const interrupt = new Interrupt(f.ports)
      await interrupt.receive(signal)
      expect(f.killed.sort()).toEqual([11, 12])
      expect(f.dirsRemoved()).toBe(1)
      expect(f.log).toHaveLength(1)
      expect(f.log[0]).toMatch(new RegExp(`^bench: interrupted by ${signal}: .*\\n$`))
      expect(f.exitCode()).toBe(code)
      expect(interrupt.by).toBe(signal)
    }
  })

  it('also kills what the scenario, still running, starts meanwhile', async () => {
    // The first scan finds influxd; by the next the scenario has started the service.
    const f = fakePorts([[11], [12], []])
    await new Interrupt(f.ports).receive('SIGINT')
    expect(f.killed).toEqual([11, 12])
    expect(f.exitCode()).toBe(130)
  })

  it('exits at once on a second signal, with the first one\'s code, without removing the temp dirs', async () => {
    // A process that never goes: the first signal's clean-up would wait for it (up to its limit).
    const f = fakePorts([[11]])
    f.ports.kill = () => undefined
    const interrupt = new Interrupt(f.ports)
    const first = interrupt.receive('SIGINT')
    await new Promise((r) => setTimeout(r, 20))
    expect(f.exitCode()).toBeUndefined()
    await interrupt.receive('SIGINT')
    expect(f.exitCode()).toBe(130)
    expect(f.log[1]).toMatch(/^bench: SIGINT again: exiting now\n$/)
    await first
    expect(f.dirsRemoved()).toBe(0)
  })

  it('exits at once with nothing to stop', async () => {
    const f = fakePorts([[]])
    await new Interrupt(f.ports).receive('SIGTERM')
    expect(f.killed).toEqual([])
    expect(f.exitCode()).toBe(143)
  })
})

describe('descendantPids', () => {
  const started: number[] = []
  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  })

  it('finds children and grandchildren, and nothing else', async () => {
    // sh -> sleep: a child and a grandchild of this process.
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] })
    started.push(child.pid!)
    const grandchild = Number(await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString()))))
    started.push(grandchild)
    const found = descendantPids(process.pid)
    expect(found).toContain(child.pid)
    expect(found).toContain(grandchild)
    expect(found).not.toContain(process.pid)
    expect(descendantPids(child.pid!)).toEqual([grandchild])
    child.kill('SIGKILL')
    process.kill(grandchild, 'SIGKILL')
    await new Promise((r) => child.once('exit', r))
    for (let i = 0; i < 50 && processExists(grandchild); i++) await new Promise((r) => setTimeout(r, 20))
    expect(descendantPids(process.pid)).not.toContain(child.pid)
  })
})

describe('benchTempDir', () => {
  it('makes a dir under the temp dir, which removeTempDir removes', async () => {
    const dir = benchTempDir('iiot-bench-unit-')
    expect(existsSync(dir)).toBe(true)
    await removeTempDir(dir)
    expect(existsSync(dir)).toBe(false)
  })
})
