import type { AcceptedMessage } from './pipeline.js'

const WARNED = ',warning="'

/**
 * A listener of accepted messages (processor.ts) that counts the warnings in
 * a material message's points: a listener, so the count is the same whether
 * the main thread or a decode worker mapped the message.
 */
export function materialWarningCounter(count: (warning: string, n: number) => void): (accepted: AcceptedMessage) => void {
  return (accepted) => {
    if (accepted.topic.kind !== 'material') return
    for (const line of accepted.lines) {
      const at = line.indexOf(WARNED)
      if (at >= 0) count(line.slice(at + WARNED.length, line.indexOf('"', at + WARNED.length)), 1)
    }
  }
}
