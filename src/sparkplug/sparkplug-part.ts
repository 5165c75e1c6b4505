import type { AcceptedMessage } from '../pipeline/pipeline.js'
import { PartBuilder, type DecodedPart } from '../pipeline/decode-part.js'
import type { MessageFrame } from '../spool/message-frame.js'
import type { SparkplugHost } from './host.js'
import { isSparkplugTopic } from './topic.js'

/** A part of a batch decoded on this thread, with its accepted messages (one frame may give several). */
export type SparkplugPart = DecodedPart & { readonly inline: readonly AcceptedMessage[] }

/**
 * The Sparkplug frames of a batch, in journal order, through the host (docs/sparkplug.md). It
 * runs on the main thread: an edge node's seq and alias state must see all of its messages, and
 * the decode workers skip these frames (decode-part.ts). A frame may become several records and
 * rejections (one per metric that did not fit), each listed against the frame's position.
 */
export function decodeSparkplugPart(host: Pick<SparkplugHost, 'handle' | 'flush'>, recordCount: number, framesOf: (record: number) => readonly MessageFrame[] | undefined): SparkplugPart {
  const part = new PartBuilder()
  const inline: AcceptedMessage[] = []
  let handled = false
  for (let r = 0; r < recordCount; r++) {
    const frames = framesOf(r)
    if (!frames) continue
    for (let f = 0; f < frames.length; f++) {
      const frame = frames[f]!
      if (!isSparkplugTopic(frame.topic)) continue
      handled = true
      for (const outcome of host.handle(frame)) {
        part.add(r, f, outcome)
        if (outcome.ok) inline.push(outcome.accepted)
      }
    }
  }
  // Births of this batch on disk before the journal's checkpoint may pass them (birth-store.ts).
  if (handled) host.flush()
  return { ...part.build(), inline }
}
