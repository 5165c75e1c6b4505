// The console's only way to data: the public API with the key the user typed (docs/console.md).
const KEY = 'iiot-api-key'

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY)
}
export function setApiKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY)
  else sessionStorage.setItem(KEY, key)
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message)
  }
}

/** Called when the API says the key is not (or no longer) good: ask again. */
let onUnauthenticated: () => void = () => {}
export function whenUnauthenticated(fn: () => void): void {
  onUnauthenticated = fn
}

function headers(): Record<string, string> {
  const key = apiKey()
  return key ? { authorization: `Bearer ${key}` } : {}
}

async function request(path: string): Promise<Response> {
  const res = await fetch(`/api/v1${path}`, { headers: headers() })
  if (res.ok) return res
  let detail = res.statusText
  let code: string | undefined
  try {
    const body = (await res.json()) as { detail?: string; code?: string }
    detail = body.detail ?? detail
    code = body.code
  } catch {
    // not problem+json: keep the status text
  }
  if (res.status === 401) {
    setApiKey(null)
    onUnauthenticated()
  }
  throw new ApiError(res.status, code, `${res.status}: ${detail}`)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function get<T = any>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  return (await request(withQuery(path, query)).then((r) => r.json())) as T
}

export async function getText(path: string, query: Record<string, string | number | undefined> = {}): Promise<string> {
  return (await request(withQuery(path, query))).text()
}

export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `${path}?${s}` : path
}

export interface LiveEvent {
  readonly id: number
  readonly event: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly data: any
}

/**
 * The live stream (GET /api/v1/stream) read with fetch, since EventSource cannot send the
 * Authorization header; on a drop it reconnects with Last-Event-ID to get what it missed
 * (docs/api.md, "Live stream"). Returns a function that closes it.
 */
export function openStream(query: Record<string, string | undefined>, onEvent: (e: LiveEvent) => void, onStatus: (connected: boolean) => void = () => {}): () => void {
  const abort = new AbortController()
  let lastId: string | undefined
  let retryMs = 2000
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        const h: Record<string, string> = { ...headers(), accept: 'text/event-stream' }
        if (lastId !== undefined) h['last-event-id'] = lastId
        const res = await fetch(`/api/v1${withQuery('/stream', query)}`, { headers: h, signal: abort.signal })
        if (res.status === 401) {
          setApiKey(null)
          onUnauthenticated()
          return
        }
        if (!res.ok || !res.body) throw new Error(`stream: ${res.status}`)
        onStatus(true)
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
        let buf = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buf += value
          let end: number
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end)
            buf = buf.slice(end + 2)
            const e = parseBlock(block)
            if (e.retry !== undefined) retryMs = e.retry
            if (e.id !== undefined) lastId = e.id
            if (e.data !== undefined) onEvent({ id: Number(e.id), event: e.event ?? 'message', data: JSON.parse(e.data) })
          }
        }
      } catch (err) {
        if (abort.signal.aborted) return
        void err // dropped: reconnect below with Last-Event-ID
      }
      onStatus(false)
      await new Promise((r) => setTimeout(r, retryMs))
    }
  }
  void run()
  return () => abort.abort()
}

function parseBlock(block: string): { id?: string; event?: string; data?: string; retry?: number } {
  const out: { id?: string; event?: string; data?: string; retry?: number } = {}
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const i = line.indexOf(':')
    const field = i < 0 ? line : line.slice(0, i)
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
    if (field === 'id') out.id = value
    else if (field === 'event') out.event = value
    else if (field === 'data') out.data = out.data === undefined ? value : `${out.data}\n${value}`
    else if (field === 'retry' && /^\d+$/.test(value)) out.retry = Number(value)
  }
  return out
}
