import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer, type SecureContextOptions, type TLSSocket } from 'node:tls'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { listenError } from '../config/listen-error.js'
import type { ConnectionGate } from './connection-gate.js'

export type ListenerKind = 'tcp' | 'tls' | 'ws' | 'wss'
const PORT_VARIABLE: Readonly<Record<ListenerKind, string>> = { tcp: 'MQTT_PORT', tls: 'MQTT_TLS_PORT', ws: 'MQTT_WS_PORT', wss: 'MQTT_WSS_PORT' }

export interface Listener {
  readonly kind: ListenerKind
  readonly port: number
  /** Swaps the certificate of a TLS or WSS listener; new handshakes use it, open connections keep theirs. */
  setSecureContext(options: SecureContextOptions): void
  /** Stops accepting and destroys every socket this listener still holds. */
  close(): Promise<void>
}

export interface ListenerOptions {
  readonly kind: ListenerKind
  readonly host: string
  readonly port: number
  readonly gate: ConnectionGate
  /** Bounds the TLS handshake and, on WebSocket listeners, the HTTP upgrade. */
  readonly connectTimeoutMs: number
  /** Largest WebSocket message: an MQTT packet may not be larger anyway. */
  readonly maxPacketBytes: number
  readonly tls?: { readonly context: SecureContextOptions; readonly requestCert: boolean; readonly rejectUnauthorized: boolean }
  /** Hands an MQTT byte stream to the broker; `secure` is the TLS socket under it, if any. */
  handle(stream: Duplex, req: IncomingMessage | undefined, secure: TLSSocket | undefined): void
  onTlsError(err: Error): void
  /** Errors of the listening socket itself (such as EMFILE on accept): logged, never thrown. */
  onServerError(err: Error): void
}

// Room for a reconnect storm in the kernel's accept queue (capped by net.core.somaxconn).
const BACKLOG = 2048

/**
 * One listener: a plain TCP server whose accepted sockets pass the connection
 * gate, then go to the protocol front: Aedes directly (tcp), a TLS server
 * (tls), an HTTP server with a WebSocket upgrade (ws) or both (wss). The
 * fronts never listen themselves; sockets are injected with
 * `emit('connection')`, as node:tls and node:http document, so refusals cost
 * no handshake.
 */
export async function startListener(opts: ListenerOptions): Promise<Listener> {
  const sockets = new Set<Socket>()
  const track = (s: Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  }
  const front = createFront(opts, track)
  const server: Server = createServer({ noDelay: opts.kind === 'ws' || opts.kind === 'wss' }, (socket) => {
    socket.on('error', () => undefined) // errors end in 'close'; a reset peer must not throw
    if (!opts.gate.admit(socket)) return
    track(socket)
    front.inject(socket)
  })
  const port = await listen(server, opts.host, opts.port).catch((err: unknown) => {
    throw listenError(err, { host: 'MQTT_HOST', port: PORT_VARIABLE[opts.kind] }, opts.host, opts.port)
  })
  server.on('error', (err) => opts.onServerError(err))
  return {
    kind: opts.kind,
    port,
    setSecureContext: (options) => front.setSecureContext?.(options),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      front.close()
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

interface Front {
  inject(socket: Socket): void
  setSecureContext?(options: SecureContextOptions): void
  close(): void
}

function createFront(opts: ListenerOptions, track: (s: Socket) => void): Front {
  const tlsOptions = () => {
    if (!opts.tls) throw new Error(`${opts.kind} listener needs TLS options`)
    const { context, requestCert, rejectUnauthorized } = opts.tls
    return { ...context, requestCert, rejectUnauthorized, handshakeTimeout: opts.connectTimeoutMs }
  }
  // Node reports a failed handshake (a handshake timeout among them) without closing the socket.
  const failed = (err: Error, secure: TLSSocket) => {
    secure.destroy()
    opts.onTlsError(err)
  }
  switch (opts.kind) {
    case 'tcp':
      return { inject: (socket) => opts.handle(socket, undefined, undefined), close: () => undefined }
    case 'tls': {
      const tls = createTlsServer(tlsOptions(), (secure) => {
        track(secure)
        opts.handle(secure, undefined, secure)
      })
      tls.on('tlsClientError', (err, secure) => failed(err, secure))
      return { inject: (socket) => tls.emit('connection', socket), setSecureContext: (o) => tls.setSecureContext(o), close: () => undefined }
    }
    case 'ws':
    case 'wss': {
      const http: HttpServer = opts.kind === 'wss' ? createHttpsServer(tlsOptions(), upgradeRequired) : createHttpServer(upgradeRequired)
      const deadline = upgradeDeadline(opts.connectTimeoutMs)
      if (opts.kind === 'wss') {
        http.on('secureConnection', (secure: TLSSocket) => {
          track(secure)
          deadline.arm(secure)
        })
        http.on('tlsClientError', (err: Error, secure: TLSSocket) => failed(err, secure))
      }
      // An MQTT packet spans one or more WebSocket frames; no message may exceed a whole packet.
      const wss = new WebSocketServer({ server: http, maxPayload: opts.maxPacketBytes + 8 })
      wss.on('error', (err) => opts.onServerError(err))
      wss.on('connection', (ws, req) => {
        deadline.clear(req.socket)
        opts.handle(createWebSocketStream(ws), req, opts.kind === 'wss' ? (req.socket as TLSSocket) : undefined)
      })
      return {
        inject(socket) {
          if (opts.kind === 'ws') deadline.arm(socket)
          http.emit('connection', socket)
        },
        setSecureContext: opts.kind === 'wss' ? (o) => (http as unknown as { setSecureContext(o: SecureContextOptions): void }).setSecureContext(o) : undefined,
        close: () => wss.close(),
      }
    }
  }
}

function upgradeRequired(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n')
}

/**
 * An injected HTTP server runs none of its own header timeouts (they start
 * with `listen`), so a socket that never completes the WebSocket upgrade is
 * destroyed here after the connect timeout.
 */
function upgradeDeadline(ms: number): { arm(socket: Socket): void; clear(socket: Socket): void } {
  const timers = new WeakMap<Socket, NodeJS.Timeout>()
  return {
    arm(socket) {
      const timer = setTimeout(() => socket.destroy(), ms)
      timers.set(socket, timer)
      socket.once('close', () => clearTimeout(timer))
    },
    clear(socket) {
      clearTimeout(timers.get(socket))
      timers.delete(socket)
    },
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, backlog: BACKLOG }, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}
