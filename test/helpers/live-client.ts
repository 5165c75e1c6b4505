import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import type { LiveClient } from '../../src/api/live-hub.js'

/** The part of a ServerResponse the live hub uses, recording what is written. */
export class FakeResponse extends EventEmitter {
  readonly chunks: string[] = []
  writableNeedDrain = false
  write(chunk: string): boolean {
    this.chunks.push(chunk)
    return true
  }
  end(): void {
    this.emit('close')
  }
  destroy(): void {
    this.emit('close')
  }
  /** The ids of the events written, in order. */
  ids(): number[] {
    return this.chunks.flatMap((c) => /^id: (\d+)/.exec(c)?.[1] ?? []).map(Number)
  }
}

/** A live-hub client that accepts every event, over a FakeResponse. */
export function fakeLiveClient(): LiveClient & { res: FakeResponse } {
  const res = new FakeResponse()
  return { res: res as FakeResponse & ServerResponse, accepts: () => true, queued: 0 }
}
