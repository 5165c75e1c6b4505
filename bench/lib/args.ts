import { numberOption, parseOptions, type OptionSpecs } from './cli.js'

export interface FaultArgs {
  gateways: number
  machines: number
  rate: number
  samples: number
  durationS: number
  faultS: number
}

export const FAULT_OPTIONS: OptionSpecs = {
  gateways: { type: 'string' },
  machines: { type: 'string' },
  rate: { type: 'string' },
  samples: { type: 'string' },
  duration: { type: 'string' },
  fault: { type: 'string' },
}

export const FAULT_HELP = `load:    --gateways N (default 20) --machines N (per gateway, default 2) --rate N (msg/s, default 2000) --samples N (default 10)
fault:   --duration S (the whole load, default 60) --fault S (how long InfluxDB is down, or the service dead; default 20 for outage, 2 for crash)`

/** Options shared by the fault scenarios; every number is bounded so a run always ends. */
export function faultArgs(argv: readonly string[], defaults: FaultArgs): FaultArgs {
  const values = parseOptions(argv, FAULT_OPTIONS)
  return {
    gateways: numberOption(values, 'gateways', defaults.gateways, 1, 5000),
    machines: numberOption(values, 'machines', defaults.machines, 1, 100),
    rate: numberOption(values, 'rate', defaults.rate, 1, 1_000_000),
    samples: numberOption(values, 'samples', defaults.samples, 1, 10_000),
    durationS: numberOption(values, 'duration', defaults.durationS, 5, 3600),
    faultS: numberOption(values, 'fault', defaults.faultS, 1, 3600),
  }
}
