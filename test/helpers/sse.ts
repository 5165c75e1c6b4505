/** One event of the API's live stream, its data parsed. */
export interface SseEvent {
  readonly id: number
  readonly event: string
  readonly data: any
}

export interface SseStream {
  readonly res: Response
  /** Every event received so far, in order; grows until `close()`. */
  readonly events: SseEvent[]
  /** The comments received so far (heartbeats and notes), without their ': '. */
  readonly comments: string[]
  /** Settles when the service ends the stream (or it is closed). */
  readonly ended: Promise<void>
  /** Aborts the request and waits for the reader to stop. */
  close(): Promise<void>
}

/** Opens `path` of the API as a Server-Sent Events stream with `key`, collecting its events (comments left out). */
export async function openSseStream(baseUrl: string, path: string, key: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController()
  const res = await fetch(baseUrl + path, { headers: { authorization: `Bearer ${key}`, ...headers }, signal: controller.signal })
  const reader = res.body!.getReader()
  const events: SseEvent[] = []
  const comments: string[] = []
  let text = ''
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        text += Buffer.from(value).toString()
        let i
        while ((i = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, i)
          text = text.slice(i + 2)
          for (const l of block.split('\n')) if (l.startsWith(': ')) comments.push(l.slice(2))
          const f = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]))
          if (f.data) events.push({ id: Number(f.id), event: f.event!, data: JSON.parse(f.data) })
        }
      }
    } catch {
      // aborted
    }
  })()
  return {
    res,
    events,
    comments,
    ended: pump,
    close: async () => {
      controller.abort()
      await pump
    },
  }
}
