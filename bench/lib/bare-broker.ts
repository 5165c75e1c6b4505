import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'

/**
 * The protocol ceiling's broker: a bare Aedes that accepts every client and
 * only counts publishes (in authorizePublish, the hook where the service
 * does its work). Run as its own process by ceilings.ts (like the service),
 * talking over IPC: it sends {type:'ready', port}, answers {type:'count'}
 * with {type:'count', count}, and exits on {type:'stop'} or when its parent goes.
 */
let count = 0
const broker = await Aedes.createBroker({
  authenticate: (_client, _username, _password, callback) => callback(null, true),
  authorizePublish: (_client, _packet, callback) => {
    count++
    callback(null)
  },
})
const server = createServer((socket) => broker.handle(socket))
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port })
})
process.on('message', (m: { type?: string }) => {
  if (m.type === 'count') process.send?.({ type: 'count', count })
  if (m.type === 'stop') {
    server.close()
    broker.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
})
process.on('disconnect', () => process.exit(0))
