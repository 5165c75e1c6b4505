import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import { parseApiKey, type ApiKeyEntry } from '../registry/registry.js'
import type { RegistrySource } from '../registry/registry-store.js'
import { createFailureThrottle } from '../registry/failure-throttle.js'
import { SecretChecksBusy } from '../registry/secret-hash.js'
import type { Metrics } from '../metrics/metrics.js'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyEntry | undefined
  }
}

const FAILURE_WINDOW_MS = 60_000
const MAX_TRACKED_ADDRESSES = 10_000

/** How many times the per-key limit an address may fail in a minute, over all the key ids it presents. */
const ADDRESS_FAILURE_FACTOR = 4

/**
 * Requires `Authorization: Bearer <key id>.<secret>` on every route of the
 * instance it is registered in (docs/security.md):
 * - no key (or nothing shaped like one): 401, no scrypt, not counted;
 * - a key that fails its check: 401, counted against the client address
 *   (`request.ip`, which follows API_TRUST_PROXY) together with the key id
 *   presented, known or not, and against the address alone;
 * - 429 with Retry-After and no check once an address has failed
 *   `failuresPerMin` times with one key id, or `ADDRESS_FAILURE_FACTOR` times
 *   that over all ids, within a minute. Guessing one key's secret is held to
 *   the limit while another client's correct key from the same address
 *   (behind a proxy) is still checked and let in; spraying ids is held by the
 *   address limit. Either way, a key that already passed a full check (the
 *   registry remembers those) still gets in, with no check.
 */
export function requireApiKey(app: FastifyInstance, registry: RegistrySource, failuresPerMin: number, metrics: Pick<Metrics, 'apiAuthFailures'>): void {
  const perKey = createFailureThrottle({ limit: failuresPerMin, windowMs: FAILURE_WINDOW_MS, maxTracked: MAX_TRACKED_ADDRESSES })
  const perAddress = createFailureThrottle({ limit: failuresPerMin * ADDRESS_FAILURE_FACTOR, windowMs: FAILURE_WINDOW_MS, maxTracked: MAX_TRACKED_ADDRESSES })
  app.decorateRequest('apiKey', undefined)
  app.addHook('onRequest', async (request) => {
    const bearer = bearerKey(request.headers.authorization)
    if (bearer === undefined) {
      metrics.apiAuthFailures.inc({ reason: 'missing' })
      throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key id>.<secret>"')
    }
    const { presented, id } = bearer
    const current = registry.current()
    // The id as presented, whether or not it exists: the throttle must not tell known ids from unknown ones.
    const pair = `${request.ip} ${id}`
    const retryAfterS = Math.max(perKey.retryAfterS(pair), perAddress.retryAfterS(request.ip))
    if (retryAfterS > 0) {
      const proven = current.provenApiKey(presented)
      if (!proven) {
        metrics.apiAuthFailures.inc({ reason: 'throttled' })
        throw new AppError('IIOT_ERR_API_RATE_LIMITED', `too many failed API key checks from this address; retry in ${retryAfterS} s`, { retryAfterS })
      }
      request.apiKey = proven
      return
    }
    let key: ApiKeyEntry | undefined
    try {
      key = await current.authenticateApiKey(presented)
    } catch (err) {
      // More checks waiting than secret-hash.ts lets wait: busy, not a wrong key (nothing counted).
      if (err instanceof SecretChecksBusy) throw new AppError('IIOT_ERR_API_RATE_LIMITED', 'too many API key checks in progress; retry in 1 s', { retryAfterS: 1 })
      throw err
    }
    if (!key) {
      perKey.fail(pair)
      perAddress.fail(request.ip)
      metrics.apiAuthFailures.inc({ reason: 'unknown' })
      // The key id only when it names a key: anything else may be a secret pasted into the wrong place.
      request.log.warn({ keyId: current.file.apiKeys.some((k) => k.id === id) ? id : `(not a key id, ${id.length} characters)`, address: request.ip }, 'API key refused')
      throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'API key not recognised')
    }
    request.apiKey = key
  })
}

/** The `<key id>.<secret>` of a Bearer header, and its id; undefined when there is none. */
function bearerKey(header: string | undefined): { presented: string; id: string } | undefined {
  const presented = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined
  if (presented === undefined) return undefined
  const key = parseApiKey(presented)
  return key && { presented, id: key.id }
}

export function apiKeyOf(request: FastifyRequest): ApiKeyEntry {
  if (!request.apiKey) throw new AppError('IIOT_ERR_API_UNAUTHENTICATED', 'no API key')
  return request.apiKey
}
