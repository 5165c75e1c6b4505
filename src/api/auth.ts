import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import type { ApiKeyEntry } from '../registry/registry.js'
import type { RegistrySource } from '../registry/registry-store.js'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyEntry | undefined
  }
}

/**
 * Requires `Authorization: Bearer <key id>.<secret>` on every route of the
 * instance it is registered in; 401 when missing or wrong.
 */
export function requireApiKey(app: FastifyInstance, registry: RegistrySource): void {
  app.decorateRequest('apiKey', undefined)
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null
    if (!match) throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>"')
    const key = await registry.current().authenticateApiKey(match[1]!)
    if (!key) throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'API key not recognised')
    request.apiKey = key
  })
}

export function apiKeyOf(request: FastifyRequest): ApiKeyEntry {
  if (!request.apiKey) throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'no API key')
  return request.apiKey
}
