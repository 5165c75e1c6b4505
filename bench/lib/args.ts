import { parseArgs } from 'node:util'

export interface FaultArgs {
  gateways: number
  machines: number
  rate: number
  samples: number
  durationS: number
  faultS: number
}

/** Options shared by the fault scenarios; every number is bounded so a run always ends. */
export function faultArgs(argv: readonly string[], defaults: FaultArgs): FaultArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      gateways: { type: 'string' },
      machines: { type: 'string' },
      rate: { type: 'string' },
      samples: { type: 'string' },
      duration: { type: 'string' },
      fault: { type: 'string' },
    },
  })
  const num = (v: string | undefined, d: number, min: number, max: number, name: string) => {
    const n = v === undefined ? d : Number(v)
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}`)
    return n
  }
  return {
    gateways: num(values.gateways, defaults.gateways, 1, 5000, 'gateways'),
    machines: num(values.machines, defaults.machines, 1, 100, 'machines'),
    rate: num(values.rate, defaults.rate, 1, 1_000_000, 'rate'),
    samples: num(values.samples, defaults.samples, 1, 10_000, 'samples'),
    durationS: num(values.duration, defaults.durationS, 5, 3600, 'duration'),
    faultS: num(values.fault, defaults.faultS, 1, 3600, 'fault'),
  }
}
