import type { OptionSpecs } from './lib/cli.js'

/** What every bench scenario returns: one flat JSON object, printed as the last stdout line. */
export type BenchResult = { scenario: string } & Record<string, unknown>

export interface Scenario {
  /** Its options (run.ts refuses any other before the scenario starts). */
  readonly options: OptionSpecs
  /** Its options as `npm run bench -- <scenario> --help` lists them. */
  readonly help: string
  run(argv: readonly string[]): Promise<BenchResult>
}
