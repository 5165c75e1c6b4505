import type { MessageFrame } from '../spool/message-frame.js'
import type { PartResult } from './decode-protocol.js'
import type { Pipeline } from './pipeline.js'
import { isSparkplugTopic } from '../sparkplug/topic.js'

/** What decoding a share of a batch made, before the live table's and the counters' share is added. */
export type DecodedPart = Pick<PartResult, 'text' | 'accepted' | 'acceptedByKind' | 'rejected'>

/**
 * Runs `pipeline` over the frames of `recordCount` journal records, in journal order, skipping the
 * gateways `owns` says belong to another thread. The same code on a decode worker and on the main
 * thread (no workers configured, or a worker that crashed on this batch).
 */
export function decodePart(pipeline: Pipeline, recordCount: number, framesOf: (record: number) => readonly MessageFrame[] | undefined, owns: (gatewayId: string) => boolean): DecodedPart {
  const texts: string[] = []
  const accepted: number[] = []
  const rejected: PartResult['rejected'][number][] = []
  const acceptedByKind: Record<string, number> = {}
  for (let r = 0; r < recordCount; r++) {
    const frames = framesOf(r)
    if (!frames) continue
    for (let f = 0; f < frames.length; f++) {
      const frame = frames[f]!
      // Sparkplug B frames are the main thread's (sparkplug-part.ts).
      if (!owns(frame.gatewayId) || isSparkplugTopic(frame.topic)) continue
      const outcome = pipeline.ingest({ topic: frame.topic, payload: frame.payload, gatewayId: frame.gatewayId, receivedMs: frame.receivedMs })
      if (outcome.ok) {
        const lines = outcome.accepted.lines
        // Lines gathered one by one and joined once for the part, not once per message as well.
        for (const l of lines) texts.push(l)
        accepted.push(r, f, lines.length)
        const kind = outcome.accepted.topic.kind
        acceptedByKind[kind] = (acceptedByKind[kind] ?? 0) + 1
      } else {
        rejected.push({ record: r, frame: f, reason: outcome.reason, message: outcome.message, zone: outcome.topic?.zone, factory: outcome.topic?.factory })
      }
    }
  }
  return { text: texts.join('\n'), accepted, acceptedByKind, rejected }
}
