import { createRequire } from 'node:module'
import { dirname } from 'node:path'

const require = createRequire(import.meta.url)

type CreateDebug = ((namespace: string) => (...args: unknown[]) => void) & { enabled(namespace: string): boolean }

/** A logger that costs nothing: no rest-argument array is built for it. */
function silent(): void {}

/**
 * mqtt-packet (under Aedes) calls `debug(...)` about 30 times per PUBLISH it
 * parses and acknowledges. The `debug` package returns at once when its
 * namespace is off, but only after the call has built its rest-argument
 * array: with 1-sample messages that was 1.2 KB per message and a fifth of
 * everything the service allocated. This swaps the `debug` that mqtt-packet
 * loads for one that hands out a no-op function for namespaces `DEBUG` does
 * not enable (those it does enable get the real logger, so
 * `DEBUG=mqtt-packet:*` works as before, set at start-up).
 *
 * Must run before mqtt-packet is first loaded: main.ts imports it first.
 * Returns whether the swap was made (false when mqtt-packet or debug cannot
 * be found, which only costs the allocations).
 */
export function quietDisabledDebug(): boolean {
  let debugPath: string
  try {
    debugPath = require.resolve('debug', { paths: [dirname(require.resolve('mqtt-packet'))] })
  } catch {
    return false
  }
  const real = require(debugPath) as CreateDebug
  const cached = require.cache[debugPath]
  if (!cached || (real as { quieted?: boolean }).quieted) return false
  const quiet = Object.assign((namespace: string) => (real.enabled(namespace) ? real(namespace) : silent), real, { quieted: true })
  cached.exports = quiet
  return true
}

quietDisabledDebug()
