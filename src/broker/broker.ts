import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { Aedes } from 'aedes'
import type { Logger } from 'pino'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Config } from '../config/config.js'
import type { Metrics } from '../metrics/metrics.js'
import { createGatewayHooks, type HookDeps } from './gateway-auth.js'

export interface BrokerHandle {
  readonly aedes: Aedes
  /** Bound ports (useful when configured as 0). */
  readonly ports: { readonly tcp: number | undefined; readonly ws: number | undefined }
  /** Stops accepting, disconnects clients, and resolves when the listeners are closed. */
  close(): Promise<void>
}

export interface BrokerDeps extends Omit<HookDeps, 'maxClientIdLength'> {
  readonly metrics: Metrics
  readonly log: Logger
}

/** The embedded Aedes broker with its TCP and WebSocket listeners. */
export async function startBroker(config: Config['mqtt'], deps: BrokerDeps): Promise<BrokerHandle> {
  const log = deps.log
  const hooks = createGatewayHooks({ ...deps, maxClientIdLength: config.maxClientIdLength })
  const aedes = await Aedes.createBroker({
    ...hooks,
    connectTimeout: config.connectTimeoutMs,
    maxTopicLevels: config.maxTopicLevels,
    maxClientsIdLength: config.maxClientIdLength,
  })
  aedes.on('clientReady', () => deps.metrics.clients.set(aedes.connectedClients))
  aedes.on('clientDisconnect', () => deps.metrics.clients.set(aedes.connectedClients))
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'))
  aedes.on('connectionError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'connection error'))

  const servers: (Server | HttpServer)[] = []
  let tcpPort: number | undefined
  let wsPort: number | undefined
  let wss: WebSocketServer | undefined
  try {
    if (config.tcp.enabled) {
      const server = createServer((socket) => aedes.handle(socket))
      tcpPort = await listen(server, config.host, config.tcp.port)
      servers.push(server)
      log.info({ port: tcpPort }, 'MQTT listening (tcp)')
    }
    if (config.ws.enabled) {
      const http = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'))
      wss = new WebSocketServer({ server: http, maxPayload: config.maxPayloadBytes + 1024 })
      wss.on('connection', (ws, req) => aedes.handle(createWebSocketStream(ws), req))
      wsPort = await listen(http, config.host, config.ws.port)
      servers.push(http)
      log.info({ port: wsPort }, 'MQTT listening (websocket)')
    }
  } catch (err) {
    for (const s of servers) s.close()
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    throw err
  }

  return {
    aedes,
    ports: { tcp: tcpPort, ws: wsPort },
    async close() {
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
      wss?.close()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      for (const s of servers) if ('closeAllConnections' in s) s.closeAllConnections()
      await Promise.all(closed)
    },
  }
}

function listen(server: Server | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}
