/**
 * A month of material movements for the API bench's `materialsTrace`
 * (docs/materials.md): on every line, machine 0 cuts supplier lots and each
 * later machine consumes the lots of the one before. Three 8-hour work orders
 * a day per machine, each producing one lot and consuming, hour by hour,
 * the upstream machine's two previous lots (the first machine: today's and
 * yesterday's supplier lot), so a backward trace widens level by level.
 */
export interface BenchLine {
  readonly tags: string
  readonly machines: readonly string[]
  readonly line: string
}

const HOUR = 3_600_000
const WO_HOURS = 8

export const lotId = (line: BenchLine, stage: number, k: number): string => `L-${line.tags.split(',')[0]!.slice('factory='.length)}-${line.line}-${stage}-${k}`

/** Line protocol for one line's history from `fromMs`, `days` long; `k` is the work order number since `fromMs`. */
export function* lineMaterialHistory(line: BenchLine, fromMs: number, days: number): Generator<string> {
  const [factoryTag, lineTag, , zoneTag] = line.tags.split(',')
  const orders = days * (24 / WO_HOURS)
  for (let k = 0; k < orders; k++) {
    const start = fromMs + k * WO_HOURS * HOUR
    for (let stage = 0; stage < line.machines.length; stage++) {
      const tags = `${factoryTag},${lineTag},machine=${line.machines[stage]},movement=`
      const wo = `WO-${stage}-${k}`
      const day = Math.floor(k / 3)
      for (let h = 0; h < WO_HOURS; h++) {
        const t = start + h * HOUR + stage * 1000
        if (stage === 0) {
          const lot = `SUP-${line.line}-${Math.max(0, day - (h % 2))}`
          if (k % 3 === 0 && h === 0) yield `material,${tags}received,${zoneTag} material="steel-bar",lot="${lot}",quantity=500,unit="kg",seq=0i ${t - 10}`
          yield `material,${tags}consumed,${zoneTag} material="steel-bar",lot="${lot}",quantity=8.5,unit="kg",work_order="${wo}",seq=0i ${t}`
        } else if (k - 1 - (h % 2) >= 0) {
          yield `material,${tags}consumed,${zoneTag} material="part-${stage - 1}",lot="${lotId(line, stage - 1, k - 1 - (h % 2))}",quantity=10,unit="pcs",work_order="${wo}",seq=0i ${t}`
        }
      }
      yield `material,${tags}produced,${zoneTag} material="part-${stage}",lot="${lotId(line, stage, k)}",quantity=80,unit="pcs",work_order="${wo}",seq=0i ${start + WO_HOURS * HOUR - 60_000 + stage * 1000}`
    }
  }
}
