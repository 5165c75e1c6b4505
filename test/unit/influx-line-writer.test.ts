import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { InfluxConfig } from '../../src/config/config.js'
import { createInfluxLineWriter } from '../../src/storage/influx/influx-line-writer.js'

// What the writer puts on the wire, for both flavours, checked against a loopback HTTP server
// (the 2.x flavour's real server runs only where containers do: test/integration/influx-v2.test.ts).
interface Seen {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

let server: Server | undefined
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined))
  server = undefined
})

async function fakeInflux(status = 204, answer = ''): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = []
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(status, answer ? { 'content-type': 'application/json' } : {})
      res.end(answer)
    })
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen }
}

const base = { database: 'iiot', retentionPolicy: 'autogen', username: undefined, password: undefined, org: undefined, bucket: undefined, token: undefined, timeoutMs: 2000, gzip: false }

describe('InfluxDB line writer', () => {
  it('1.x: POST /write with db, rp and ms precision, Basic credentials, the lines as the body', async () => {
    const { url, seen } = await fakeInflux()
    const writer = createInfluxLineWriter({ ...base, url, flavor: 'v1', username: 'ingest', password: 's3cret' } as InfluxConfig, 10)
    await writer.write(Buffer.from('m v=1 1\nm v=2 2\nm v=3 3'), 3)
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/write?db=iiot&rp=autogen&precision=ms', body: 'm v=1 1\nm v=2 2\nm v=3 3' })
    expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('ingest:s3cret').toString('base64')}`)
    expect(seen[0]!.headers['content-type']).toBe('text/plain; charset=utf-8')
    await writer.close()
  })

  it('2.x: POST /api/v2/write with org, bucket and ms precision, Token credentials', async () => {
    const { url, seen } = await fakeInflux()
    const writer = createInfluxLineWriter({ ...base, url, flavor: 'v2', org: 'park & co', bucket: 'iiot/raw', token: 'tok-1' } as InfluxConfig, 10)
    await writer.write(Buffer.from('m v=1 1'), 1)
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v2/write?org=park%20%26%20co&bucket=iiot%2Fraw&precision=ms', body: 'm v=1 1' })
    expect(seen[0]!.headers.authorization).toBe('Token tok-1')
    await writer.close()
  })

  it("a 400 is bad data (not retried) with InfluxDB's message; a 503 is retried; a batch over the limit is refused before sending", async () => {
    const bad = await fakeInflux(400, JSON.stringify({ error: 'partial write: field type conflict' }))
    const writer = createInfluxLineWriter({ ...base, url: bad.url, flavor: 'v1' } as InfluxConfig, 2)
    await expect(writer.write(Buffer.from('m v=1 1'), 1)).rejects.toMatchObject({ retriable: false, status: 400, message: 'InfluxDB answered 400: partial write: field type conflict' })
    await expect(writer.write(Buffer.from('a v=1 1\nb v=1 1\nc v=1 1'), 3)).rejects.toMatchObject({ retriable: false })
    expect(bad.seen).toHaveLength(1)
    await new Promise((r) => server!.close(r))
    const down = await fakeInflux(503)
    const again = createInfluxLineWriter({ ...base, url: down.url, flavor: 'v1' } as InfluxConfig, 2)
    await expect(again.write(Buffer.from('m v=1 1'), 1)).rejects.toMatchObject({ retriable: true, status: 503 })
  })
})
