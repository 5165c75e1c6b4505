import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { descendantPids } from '../../bench/lib/proc.js'
import { processExists, sourceCommand } from '../../bench/lib/service-process.js'

/**
 * A real bench run (`latency`, from source: its influxd and the service, as processes), stopped by a
 * signal: to the bench alone (a CI timeout, a supervisor), to its whole process group (Ctrl-C in a
 * terminal), and while it is still starting. Each time the bench exits 130 / 143, every process it
 * had started is gone, and no temp dir of its own is left.
 */
const root = new URL('../..', import.meta.url).pathname

interface BenchRun {
  readonly child: ChildProcess
  readonly tmp: string
  /** In the environment of the bench, so of every process it starts: one that outlives it is found, wherever it was re-parented. */
  readonly mark: string
  /** Every process seen below the bench so far. */
  readonly seen: Set<number>
  stderr(): string
  stdout(): string
  /** Resolves with the first match of `re` in stderr (and notes the bench's processes meanwhile). */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const runs: BenchRun[] = []
const MARK = 'IIOT_BENCH_INTERRUPT_TEST'

/** Live processes whose environment has MARK=mark. */
function marked(mark: string): number[] {
  const needle = `${MARK}=${mark}`
  const found: number[] = []
  for (const e of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(needle) && processExists(Number(e))) found.push(Number(e))
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found
}

async function startBench(): Promise<BenchRun> {
  // Its own TMPDIR, so what it leaves there is the bench's alone.
  const tmp = await mkdtemp(join(tmpdir(), 'iiot-bench-interrupt-test-'))
  const mark = randomUUID()
  const [cmd, args] = sourceCommand('bench/run.ts')
  // Its own process group (detached): the test can send a signal to the group, as a terminal's Ctrl-C does, and kill it whole.
  const child = spawn(cmd, [...args, 'latency', '--quick', '--rate', '200', '--duration', '30', '--gateways', '2', '--machines', '2'], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp, IIOT_SERVICE_FROM_SOURCE: '1', [MARK]: mark },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let stderr = ''
  let stdout = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const seen = new Set<number>()
  const run: BenchRun = {
    child,
    tmp,
    mark,
    seen,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        for (const pid of descendantPids(child.pid!)) seen.add(pid)
        const m = re.exec(stderr)
        if (m) return m
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the bench exited (${child.exitCode ?? child.signalCode}) before ${re}:\n${stderr}`)
        if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms:\n${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
  runs.push(run)
  return run
}

/** Waits for the bench's exit, at most `timeoutMs`. */
async function exitOf(run: BenchRun, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = Date.now()
  const r = await Promise.race([run.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the bench did not exit within ${timeoutMs} ms:\n${run.stderr()}`)), timeoutMs))])
  return { ...r, ms: Date.now() - t0 }
}

async function gone(pids: Iterable<number>): Promise<number[]> {
  // A process killed just now may take a moment to be reaped (a zombie counts as gone).
  const deadline = Date.now() + 3000
  let left = [...pids].filter(processExists)
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    left = left.filter(processExists)
  }
  return left
}

/** What the run left: processes still alive of those seen below it or carrying its mark, and temp dirs of its own. */
async function leftovers(run: BenchRun): Promise<{ processes: number[]; tempDirs: string[] }> {
  const processes = await gone(new Set([...run.seen, ...marked(run.mark)]))
  return { processes, tempDirs: await benchTempDirsLeft(run) }
}

async function benchTempDirsLeft(run: BenchRun): Promise<string[]> {
  return (await readdir(run.tmp)).filter((e) => e.startsWith('iiot-'))
}

// Whatever happens in a test, nothing it started outlives it: the bench's group, then anything seen below it.
afterEach(async () => {
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      try {
        process.kill(-run.child.pid!, 'SIGKILL')
      } catch {
        // gone
      }
      await run.exited
    }
    for (const pid of [...run.seen, ...marked(run.mark)]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
    await rm(run.tmp, { recursive: true, force: true })
  }
})

const STARTED = /started influxd \(pid (\d+),.*the service \(pid (\d+),/

describe('bench interrupted', () => {
  it('by SIGINT to the bench alone: stops influxd and the service, removes its temp dir, exits 130', async () => {
    const run = await startBench()
    const [, influxPid, servicePid] = await run.waitFor(STARTED, 40_000)
    // The load is running (a progress line of the hold).
    await run.waitFor(/msg\/s offered: \d+s/, 20_000)
    const pids = descendantPids(run.child.pid!)
    expect(pids).toEqual(expect.arrayContaining([Number(influxPid), Number(servicePid)]))
    run.child.kill('SIGINT')
    const { code, signal, ms } = await exitOf(run, 10_000)
    expect({ code, signal }).toEqual({ code: 130, signal: null })
    expect(ms).toBeLessThan(5000)
    expect(await leftovers(run)).toEqual({ processes: [], tempDirs: [] })
    expect(run.stderr().match(/^bench: interrupted by SIGINT\b.*$/gm)).toHaveLength(1)
    expect(run.stderr()).not.toMatch(/bench failed|\n\s+at /)
    // No summary: the run was abandoned.
    expect(run.stdout()).toBe('')
  }, 60_000)

  it('by Ctrl-C (SIGINT to its whole process group): the service is not left draining; exits 130', async () => {
    const run = await startBench()
    await run.waitFor(STARTED, 40_000)
    await run.waitFor(/msg\/s offered: \d+s/, 20_000)
    process.kill(-run.child.pid!, 'SIGINT')
    const { code, ms } = await exitOf(run, 10_000)
    expect(code).toBe(130)
    expect(ms).toBeLessThan(5000)
    expect(await leftovers(run)).toEqual({ processes: [], tempDirs: [] })
  }, 60_000)

  it('by SIGTERM while it is still starting: exits 143 and leaves nothing behind', async () => {
    const run = await startBench()
    await run.waitFor(/latency: starting a throwaway influxd and service/, 30_000)
    run.child.kill('SIGTERM')
    const { code } = await exitOf(run, 10_000)
    expect(code).toBe(143)
    expect(await leftovers(run)).toEqual({ processes: [], tempDirs: [] })
  }, 60_000)
})
