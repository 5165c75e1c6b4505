import type { MessageFrame } from '../spool/message-frame.js'
import type { PartResult } from './decode-protocol.js'
import type { InboundMessage, IngestOutcome, Pipeline } from './pipeline.js'
import { LineSink } from './line-sink.js'
import { isSparkplugTopic } from '../sparkplug/topic.js'

/** What decoding a share of a batch made, before the live table's and the counters' share is added. */
export type DecodedPart = Pick<PartResult, 'body' | 'accepted' | 'acceptedByKind' | 'rejected'>

/** Gathers what the messages of a part became, at their journal positions: the accepted ones' lines as bytes. */
export class PartBuilder {
  /** About a slice's worth of telemetry lines (drainer.ts reads about 500 at a time). */
  readonly sink = new LineSink(64 * 1024)
  private readonly accepted: number[] = []
  private readonly rejected: PartResult['rejected'][number][] = []
  private readonly acceptedByKind: Record<string, number> = {}

  /** Runs `pipeline` on the message at frame `f` of record `r`, its lines written straight into this part. */
  ingest(r: number, f: number, pipeline: Pipeline, inbound: InboundMessage): IngestOutcome {
    const before = this.sink.lines
    const outcome = pipeline.ingest(inbound, this.sink)
    this.record(r, f, outcome, this.sink.lines - before)
    return outcome
  }

  /** The outcome of the message at frame `f` of record `r`, made elsewhere (one message may have several). */
  add(r: number, f: number, outcome: IngestOutcome): void {
    if (outcome.ok) for (const l of outcome.accepted.lines) this.sink.line(l)
    this.record(r, f, outcome, outcome.ok ? outcome.accepted.lines.length : 0)
  }

  private record(r: number, f: number, outcome: IngestOutcome, lines: number): void {
    if (outcome.ok) {
      this.accepted.push(r, f, lines)
      const kind = outcome.accepted.topic.kind
      this.acceptedByKind[kind] = (this.acceptedByKind[kind] ?? 0) + 1
    } else {
      this.rejected.push({ record: r, frame: f, reason: outcome.reason, message: outcome.message, zone: outcome.topic?.zone, factory: outcome.topic?.factory })
    }
  }

  /** What the part became; its body from `alloc` (see LineSink.take). */
  build(alloc?: (size: number) => Buffer): DecodedPart {
    return { body: this.sink.take(alloc), accepted: this.accepted, acceptedByKind: this.acceptedByKind, rejected: this.rejected }
  }
}

/**
 * Runs `pipeline` over the frames of `recordCount` journal records, in journal order, skipping the
 * gateways `owns` says belong to another thread. The same code on a decode worker and on the main
 * thread (no workers configured, or a worker that crashed on this batch).
 */
export function decodePart(
  pipeline: Pipeline,
  recordCount: number,
  framesOf: (record: number) => readonly MessageFrame[] | undefined,
  owns: (gatewayId: string) => boolean,
  alloc?: (size: number) => Buffer,
): DecodedPart {
  const part = new PartBuilder()
  for (let r = 0; r < recordCount; r++) {
    const frames = framesOf(r)
    if (!frames) continue
    for (let f = 0; f < frames.length; f++) {
      const frame = frames[f]!
      // Sparkplug B frames are the main thread's (sparkplug-part.ts).
      if (!owns(frame.gatewayId) || isSparkplugTopic(frame.topic)) continue
      // A frame has what an inbound message has (topic, payload, gateway, receive time): no copy per message.
      part.ingest(r, f, pipeline, frame)
    }
  }
  return part.build(alloc)
}
