import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void

/** Heap in use after a full collection: for bounds that must not depend on when the GC last ran. */
export function heapAfterGc(): number {
  gc()
  return process.memoryUsage().heapUsed
}
