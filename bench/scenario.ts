/** What every bench scenario returns: one flat JSON object, printed as the last stdout line. */
export type BenchResult = { scenario: string } & Record<string, unknown>

export interface Scenario {
  readonly name: string
  readonly description: string
  run(argv: readonly string[]): Promise<BenchResult>
}
