import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { API_HELP, API_OPTIONS } from '../../bench/api.js'
import { DECODE_HELP, DECODE_OPTIONS } from '../../bench/decode.js'
import { DURABILITY_HELP, DURABILITY_OPTIONS } from '../../bench/durability.js'
import { FLOOD_HELP, FLOOD_OPTIONS } from '../../bench/flood.js'
import { INGEST_HELP, INGEST_OPTIONS, LATENCY_HELP, LATENCY_OPTIONS } from '../../bench/ingest.js'
import { FAULT_HELP, FAULT_OPTIONS, faultArgs } from '../../bench/lib/args.js'
import { closest, numberOption, parseOptions, UsageError, type OptionSpecs } from '../../bench/lib/cli.js'
import { parseBenchOptions } from '../../bench/lib/options.js'
import { sourceCommand } from '../../bench/lib/service-process.js'
import { SCALEOUT_HELP, SCALEOUT_OPTIONS } from '../../bench/scaleout.js'
import { STORM_HELP, STORM_OPTIONS } from '../../bench/storm.js'

const SPECS: OptionSpecs = { duration: { type: 'string' }, quick: { type: 'boolean' }, 'node-arg': { type: 'string', multiple: true }, gateways: { type: 'string' } }

/** The UsageError `fn` throws (failing the test when it throws none or another error). */
function usageError(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError)
    return (err as Error).message
  }
  throw new Error('no UsageError thrown')
}

describe('bench options: parseOptions', () => {
  it('reads --name value, --name=value, booleans and repeatable options', () => {
    expect(parseOptions(['--duration', '30', '--quick', '--node-arg=--trace-gc', '--node-arg', 'x', '--gateways=5'], SPECS)).toEqual({ duration: '30', quick: true, 'node-arg': ['--trace-gc', 'x'], gateways: '5' })
    expect(parseOptions([], SPECS)).toEqual({})
    // The last of an option given twice (a script's defaults, then an override).
    expect(parseOptions(['--duration', '30', '--duration', '10'], SPECS)).toEqual({ duration: '10' })
  })

  it('names an unknown option, and the one meant when it is a near miss', () => {
    expect(usageError(() => parseOptions(['--durration', '5'], SPECS))).toBe('unknown option --durration (did you mean --duration?)')
    expect(usageError(() => parseOptions(['--gatways', '5'], SPECS))).toBe('unknown option --gatways (did you mean --gateways?)')
    expect(usageError(() => parseOptions(['--dutaion', '5'], SPECS))).toBe('unknown option --dutaion (did you mean --duration?)')
    expect(usageError(() => parseOptions(['--qiuck'], SPECS))).toBe('unknown option --qiuck (did you mean --quick?)')
    expect(usageError(() => parseOptions(['--samples', '5'], SPECS))).toBe('unknown option --samples')
    expect(usageError(() => parseOptions(['-d', '5'], SPECS))).toBe('unknown option -d')
    expect(usageError(() => parseOptions(['--gateways', '5'], {}))).toBe('unknown option --gateways (this scenario takes no options)')
  })

  it('takes a negative number as a value (its range check refuses it by name), not as an ambiguous option', () => {
    expect(parseOptions(['--duration', '-5'], SPECS)).toEqual({ duration: '-5' })
    expect(usageError(() => numberOption(parseOptions(['--duration', '-5'], SPECS), 'duration', 60, 5, 3600))).toBe('--duration must be a number from 5 to 3600, got "-5"')
  })

  it('says which option lacks its value, which takes none, and what is left over', () => {
    expect(usageError(() => parseOptions(['--duration'], SPECS))).toBe('--duration needs a value')
    expect(usageError(() => parseOptions(['--duration', '--quick'], SPECS))).toMatch(/^--duration needs a value \(for one that starts with "-", --duration=VALUE\)$/)
    expect(usageError(() => parseOptions(['--quick=yes'], SPECS))).toBe('--quick takes no value')
    expect(usageError(() => parseOptions(['--quick', 'yes'], SPECS))).toBe('unexpected argument "yes" (--quick takes no value)')
    expect(usageError(() => parseOptions(['latency'], SPECS))).toBe('unexpected argument "latency"')
  })
})

describe('bench options: numbers', () => {
  it('are in range, or refused naming the option, its range and the value', () => {
    expect(numberOption({ duration: '30' }, 'duration', 60, 5, 3600)).toBe(30)
    expect(numberOption({}, 'duration', 60, 5, 3600)).toBe(60)
    for (const bad of ['abc', '', ' ', '4', '3601', 'Infinity', 'NaN']) expect(usageError(() => numberOption({ duration: bad }, 'duration', 60, 5, 3600))).toBe(`--duration must be a number from 5 to 3600, got "${bad}"`)
  })

  it('of the load scenarios, the fault scenarios and the others are usage errors', () => {
    expect(usageError(() => parseBenchOptions(['--gateways', '0'], {}))).toBe('--gateways must be a number from 1 to 5000, got "0"')
    expect(usageError(() => parseBenchOptions(['--qos', '2'], {}))).toMatch(/^--qos must be/)
    expect(usageError(() => parseBenchOptions(['--hash-n', '1000'], {}))).toBe('--hash-n must be a power of two')
    expect(usageError(() => parseBenchOptions(['--mix', 'nonsense'], {}))).toMatch(/^--mix: unknown kind "nonsense"/)
    expect(usageError(() => parseBenchOptions(['--service-env', 'lower=1'], {}))).toMatch(/^--service-env takes NAME=VALUE/)
    expect(usageError(() => parseBenchOptions(['--node-arg', 'trace-gc'], {}))).toMatch(/^--node-arg takes one node option/)
    expect(usageError(() => faultArgs(['--fault', '0'], { gateways: 1, machines: 1, rate: 1, samples: 1, durationS: 60, faultS: 2 }))).toBe('--fault must be a number from 1 to 3600, got "0"')
    expect(usageError(() => faultArgs(['--fualt', '3'], { gateways: 1, machines: 1, rate: 1, samples: 1, durationS: 60, faultS: 2 }))).toBe('unknown option --fualt (did you mean --fault?)')
    expect(parseBenchOptions(['--duration', '10', '--quick'], { durationS: 30 })).toMatchObject({ durationS: 10, quick: true, gateways: 20 })
  })
})

describe('bench options: --target', () => {
  afterEach(() => vi.unstubAllEnvs())
  const complete = ['--target', 'http://10.0.0.5:8080', '--mqtt', 'mqtt://10.0.0.5:1883', '--api-key', 'k', '--credentials', 'c.json']

  it('is checked before anything starts: a URL, with what it needs', () => {
    vi.stubEnv('INFLUX_URL', 'http://10.0.0.5:8086')
    expect(parseBenchOptions(complete, {})).toMatchObject({ target: 'http://10.0.0.5:8080', mqtt: 'mqtt://10.0.0.5:1883' })
    expect(usageError(() => parseBenchOptions(['--target', 'notaurl'], {}))).toBe('--target must be the API base URL of the deployment, e.g. http://host:8080; got "notaurl"')
    expect(usageError(() => parseBenchOptions(['--target', 'ftp://x'], {}))).toMatch(/^--target must be/)
    expect(usageError(() => parseBenchOptions(['--target', 'http://x:8080'], {}))).toMatch(/^--target needs --mqtt/)
    expect(usageError(() => parseBenchOptions(['--target', 'http://x:8080', '--mqtt', 'x:1883'], {}))).toMatch(/^--mqtt must be/)
    expect(usageError(() => parseBenchOptions(complete.filter((a) => a !== '--credentials' && a !== 'c.json'), {}))).toMatch(/^--target needs --credentials/)
    vi.stubEnv('INFLUX_URL', '')
    expect(usageError(() => parseBenchOptions(complete, {}))).toMatch(/^--target needs INFLUX_URL/)
    vi.stubEnv('INFLUX_URL', 'localhost:8086')
    expect(usageError(() => parseBenchOptions(complete, {}))).toMatch(/^INFLUX_URL must be/)
  })

  it('refuses the options of a service the bench starts, and its own are refused without it', () => {
    vi.stubEnv('INFLUX_URL', 'http://10.0.0.5:8086')
    expect(usageError(() => parseBenchOptions([...complete, '--cpu-prof', 'p'], {}))).toBe('--cpu-prof applies only to a service the bench starts, not with --target')
    expect(usageError(() => parseBenchOptions([...complete, '--service-env', 'A=1'], {}))).toMatch(/^--service-env applies only/)
    expect(usageError(() => parseBenchOptions(['--mqtt', 'mqtt://x:1883'], {}))).toBe('--mqtt applies only with --target (an existing deployment)')
    expect(usageError(() => parseBenchOptions(['--service-pid', '1'], {}))).toMatch(/^--service-pid applies only with --target/)
  })
})

describe('bench options: help', () => {
  it("of every scenario names each of its options", () => {
    const scenarios: [string, OptionSpecs, string][] = [
      ['ingest', INGEST_OPTIONS, INGEST_HELP], ['latency', LATENCY_OPTIONS, LATENCY_HELP], ['storm', STORM_OPTIONS, STORM_HELP], ['flood', FLOOD_OPTIONS, FLOOD_HELP],
      ['outage/crash', FAULT_OPTIONS, FAULT_HELP], ['durability', DURABILITY_OPTIONS, DURABILITY_HELP], ['api', API_OPTIONS, API_HELP], ['scaleout', SCALEOUT_OPTIONS, SCALEOUT_HELP], ['decode', DECODE_OPTIONS, DECODE_HELP],
    ]
    for (const [name, options, help] of scenarios) for (const o of Object.keys(options)) expect(help, `${name}: --${o}`).toMatch(new RegExp(`--${o}\\b`))
  })

  it('suggests near misses only', () => {
    expect(closest('latncy', ['ingest', 'latency', 'storm'])).toBe('latency')
    expect(closest('strom', ['ingest', 'latency', 'storm'])).toBe('storm')
    expect(closest('dur', ['duration', 'quick'])).toBe('duration')
    expect(closest('bogus', ['ingest', 'latency', 'storm'])).toBeUndefined()
  })
})

/** The bench's command line itself, from source: what a mistake prints and its exit code. */
function bench(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = sourceCommand('bench/run.ts')
  const r = spawnSync(cmd, [...argv, ...args], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('bench command line', () => {
  it('--help: the scenarios on stdout, exit 0; a scenario\'s --help: its options', () => {
    const top = bench('--help')
    expect(top).toMatchObject({ code: 0, stderr: '' })
    expect(top.stdout).toMatch(/^usage: npm run bench -- <scenario>/)
    expect(top.stdout).toMatch(/^ {2}latency /m)
    const latency = bench('latency', '--help')
    expect(latency).toMatchObject({ code: 0, stderr: '' })
    expect(latency.stdout).toContain('--fraction')
  }, 60_000)

  it('a mistake: one line saying what, the usage, exit 2, no stack trace, nothing started', () => {
    const cases: [string[], string][] = [
      [[], 'bench: no scenario given; one of: ingest, latency, '],
      [['latncy'], 'bench: unknown scenario "latncy" (did you mean latency?); one of: ingest, latency, '],
      [['latency', '--durration', '5'], 'bench: unknown option --durration (did you mean --duration?)\n'],
      [['latency', '--duration', '-5'], 'bench: --duration must be a number from 5 to 3600, got "-5"\n'],
      [['decode', '--gateways', '5'], 'bench: unknown option --gateways (this scenario takes no options)\n'],
      [['latency', '--target', 'notaurl'], 'bench: --target must be the API base URL'],
    ]
    for (const [args, first] of cases) {
      const r = bench(...args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stdout, args.join(' ')).toBe('')
      expect(r.stderr.startsWith(first), `${args.join(' ')}: ${r.stderr}`).toBe(true)
      expect(r.stderr.split('\n')[1], args.join(' ')).toMatch(/^usage: npm run bench -- /)
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(2)
      expect(r.stderr).not.toMatch(/starting|\n\s+at /)
    }
  }, 120_000)
})
