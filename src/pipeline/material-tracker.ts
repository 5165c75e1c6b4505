import type { MaterialMovement, MaterialWarning } from '../domain/records.js'

const LOTS_PER_MACHINE = 256
const MACHINES_MAX = 100_000

/**
 * What is loaded at each machine, for the one material check that warns
 * instead of rejecting (docs/materials.md): a lot consumed at a machine where
 * it was never loaded. Real floors are messy (a lot loaded by hand, a load
 * scan missed), so the movement is kept, with the warning, and counted.
 *
 * Only machines whose gateway reports loads are judged: a machine with no
 * load seen since this process started gets no warnings, so a gateway that
 * never reports loads is not flagged on every consumption, and a restart does
 * not flag lots loaded before it. Bounded: the newest lots per machine.
 * The warning travels in the point's `warning` field; material-warnings.ts
 * counts it where accepted messages are announced.
 */
export class MaterialTracker {
  private readonly loaded = new Map<string, Set<string>>()

  /** Records the movement; the warning it earns, if any. */
  apply(machineKey: string, m: MaterialMovement): MaterialWarning | undefined {
    if (m.movement === 'loaded') {
      let lots = this.loaded.get(machineKey)
      if (!lots) {
        if (this.loaded.size >= MACHINES_MAX) this.loaded.clear()
        this.loaded.set(machineKey, (lots = new Set()))
      }
      lots.delete(m.lot)
      lots.add(m.lot)
      if (lots.size > LOTS_PER_MACHINE) lots.delete(lots.values().next().value!)
      return undefined
    }
    if (m.movement !== 'consumed') return undefined
    const lots = this.loaded.get(machineKey)
    if (!lots || lots.has(m.lot)) return undefined
    return 'consumed_before_loaded'
  }
}
