import type { MessageFrame } from '../spool/message-frame.js'
import type { PartResult } from './decode-protocol.js'
import type { IngestOutcome, Pipeline } from './pipeline.js'
import { isSparkplugTopic } from '../sparkplug/topic.js'

/** What decoding a share of a batch made, before the live table's and the counters' share is added. */
export type DecodedPart = Pick<PartResult, 'text' | 'accepted' | 'acceptedByKind' | 'rejected'>

/** Gathers what the messages of a part became, at their journal positions. */
export class PartBuilder {
  private readonly texts: string[] = []
  private readonly accepted: number[] = []
  private readonly rejected: PartResult['rejected'][number][] = []
  private readonly acceptedByKind: Record<string, number> = {}

  /** The outcome of the message at frame `f` of record `r` (one message may have several). */
  add(r: number, f: number, outcome: IngestOutcome): void {
    if (outcome.ok) {
      const lines = outcome.accepted.lines
      // Lines gathered one by one and joined once for the part, not once per message as well.
      for (const l of lines) this.texts.push(l)
      this.accepted.push(r, f, lines.length)
      const kind = outcome.accepted.topic.kind
      this.acceptedByKind[kind] = (this.acceptedByKind[kind] ?? 0) + 1
    } else {
      this.rejected.push({ record: r, frame: f, reason: outcome.reason, message: outcome.message, zone: outcome.topic?.zone, factory: outcome.topic?.factory })
    }
  }

  build(): DecodedPart {
    return { text: this.texts.join('\n'), accepted: this.accepted, acceptedByKind: this.acceptedByKind, rejected: this.rejected }
  }
}

/**
 * Runs `pipeline` over the frames of `recordCount` journal records, in journal order, skipping the
 * gateways `owns` says belong to another thread. The same code on a decode worker and on the main
 * thread (no workers configured, or a worker that crashed on this batch).
 */
export function decodePart(pipeline: Pipeline, recordCount: number, framesOf: (record: number) => readonly MessageFrame[] | undefined, owns: (gatewayId: string) => boolean): DecodedPart {
  const part = new PartBuilder()
  for (let r = 0; r < recordCount; r++) {
    const frames = framesOf(r)
    if (!frames) continue
    for (let f = 0; f < frames.length; f++) {
      const frame = frames[f]!
      // Sparkplug B frames are the main thread's (sparkplug-part.ts).
      if (!owns(frame.gatewayId) || isSparkplugTopic(frame.topic)) continue
      part.add(r, f, pipeline.ingest({ topic: frame.topic, payload: frame.payload, gatewayId: frame.gatewayId, receivedMs: frame.receivedMs }))
    }
  }
  return part.build()
}
