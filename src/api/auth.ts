import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import type { ApiKeyEntry } from '../registry/registry.js'
import type { RegistrySource } from '../registry/registry-store.js'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyEntry | undefined
  }
}

const FAILURE_WINDOW_MS = 60_000
const MAX_TRACKED_ADDRESSES = 10_000

/**
 * Requires `Authorization: Bearer <key id>.<secret>` on every route of the
 * instance it is registered in; 401 when missing or wrong. A client address
 * with more than `failuresPerMin` failed checks in a minute gets 429 without
 * a check, so guessing keys is slow and cannot load the scrypt thread pool.
 */
export function requireApiKey(app: FastifyInstance, registry: RegistrySource, failuresPerMin: number): void {
  const failures = new Map<string, { count: number; since: number }>()
  app.decorateRequest('apiKey', undefined)
  app.addHook('onRequest', async (request) => {
    const now = Date.now()
    const f = failures.get(request.ip)
    if (f && now - f.since < FAILURE_WINDOW_MS && f.count >= failuresPerMin) {
      throw new AppError('IIOT_ERR_API_RATE_LIMITED', 'too many failed API key checks from this address; wait a minute')
    }
    const header = request.headers.authorization
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null
    const key = match ? await registry.current().authenticateApiKey(match[1]!) : undefined
    if (!key) {
      const entry = f && now - f.since < FAILURE_WINDOW_MS ? f : { count: 0, since: now }
      entry.count++
      if (failures.size >= MAX_TRACKED_ADDRESSES && !failures.has(request.ip)) failures.clear()
      failures.set(request.ip, entry)
      throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', match ? 'API key not recognised' : 'send an API key as "Authorization: Bearer <key>"')
    }
    request.apiKey = key
  })
}

export function apiKeyOf(request: FastifyRequest): ApiKeyEntry {
  if (!request.apiKey) throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'no API key')
  return request.apiKey
}
