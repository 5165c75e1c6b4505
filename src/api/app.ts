import cors from '@fastify/cors'
import helmet from 'helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { consoleRoutes } from '../console/console-routes.js'
import { AppError, fromFrameworkError } from '../errors.js'
import type { ApiDeps } from './api-deps.js'
import { requireApiKey } from './auth.js'
import { documentTransform, lenientSerializerCompiler, problemSchema } from './openapi.js'
import { badRequest, errorHandler, sendProblem } from './problem.js'
import { brokerAuthRoutes } from './routes/broker-auth.js'
import { healthRoutes } from './routes/health.js'
import { ingestRoutes } from './routes/ingest.js'
import { connectivityRoutes } from './routes/connectivity.js'
import { equipmentHistoryRoutes } from './routes/equipment-history.js'
import { equipmentRoutes } from './routes/equipment.js'
import { materialsRoutes } from './routes/materials.js'
import { oeeRoutes } from './routes/oee.js'
import { parkRoutes } from './routes/park.js'
import { productionCountRoutes } from './routes/production.js'
import { inspectionRoutes, spcRoutes } from './routes/quality.js'
import { recordsRoutes } from './routes/records.js'
import { streamRoutes } from './routes/stream.js'
import { telemetryRoutes } from './routes/telemetry.js'
import { sparkplugRoutes } from './routes/sparkplug.js'

/** Builds the HTTP API without listening, so tests can `inject()` or listen on port 0. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Quiet by default: no line per request (the /metrics counters cover traffic).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // request.ip, which the key-failure throttle and the rate limit key on, is the client behind these proxies (docs/security.md).
    trustProxy: typeof deps.config.trustProxy === 'object' ? [...deps.config.trustProxy] : deps.config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors Fastify meets before routing (a URL it cannot decode, a parameter over maxParamLength) skip the error handler.
    frameworkErrors: (error, request, reply) => void sendProblem(reply, request, fromFrameworkError(error)),
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(lenientSerializerCompiler(app.log, (route) => deps.metrics.apiSchemaMismatches.inc({ route })))
  app.setErrorHandler(errorHandler)
  // A misspelt or misplaced parameter is an error, not silently ignored: `equipment/state?factroy=x`
  // answered for every machine, `ingest/rejections?factory=x` for every factory.
  // An API operation without a query schema takes no parameters; elsewhere (the console's files,
  // health and metrics) a query string without a schema is left alone, as a cache-buster may add one.
  app.addHook('preValidation', async (request) => {
    const querystring = request.routeOptions.schema?.querystring as { shape?: Record<string, unknown> } | undefined
    const shape = querystring?.shape ?? (request.routeOptions.url?.startsWith('/api/v1/') ? {} : undefined)
    if (!shape) return
    for (const name of Object.keys((request.query as Record<string, unknown> | undefined) ?? {})) {
      if (!Object.hasOwn(shape, name)) throw badRequest(name, `is not a parameter of this endpoint (it takes ${Object.keys(shape).join(', ') || 'none'})`)
    }
  })
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new AppError('IIOT_ERR_API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see /docs`)))

  // Security headers on every answer (helmet's defaults); the docs UI and the console set their own CSP.
  // helmet's middleware is built once: @fastify/helmet built it again, CSP parsed, on every request
  // (5 % of the service's CPU under the API bench's load, docs/decisions.md).
  // Without upgrade-insecure-requests: the API serves plain HTTP (TLS ends at a proxy, if any), and a
  // browser told to upgrade asks https:// of a host name that has no TLS (/docs was a blank page).
  const securityHeaders = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })
  app.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined)))
  // Retry-After exposed: a browser client reads it from a 429 or 503.
  if (deps.config.corsOrigins.length > 0) await app.register(cors, { origin: [...deps.config.corsOrigins], methods: ['GET'], exposedHeaders: ['Retry-After'] })

  await app.register(swagger, {
    openapi: {
      info: { title: 'iiot-ingest API', version: '1', description: 'Real-time production, equipment, quality and telemetry data of the smart-factory pilots. Errors are application/problem+json.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key "<key id>.<secret>" from the registry CLI' } }, schemas: { Problem: problemSchema } },
    },
    transform: documentTransform,
    transformObject: jsonSchemaTransformObject,
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: (csp) => csp.replace(/\s*upgrade-insecure-requests;?/, '') })

  await app.register(healthRoutes, deps)
  // The base path itself: where to read about it (the Quick start prints this address).
  app.get('/api/v1', { schema: { hide: true } }, async () => ({ title: 'iiot-ingest API', version: '1', docs: '/docs', openapi: '/docs/json', auth: 'Authorization: Bearer <key id>.<secret>' }))
  // Outside the API-key scope: the broker authenticates with its own secret (docs/scaling-out.md).
  if (deps.brokerAccess) await app.register(brokerAuthRoutes, { registry: deps.registry, access: deps.brokerAccess, prefix: '/api/v1/broker' })
  // The web console (docs/console.md): static files that read the API below with the user's key.
  await app.register(consoleRoutes, { offlineAfterMs: deps.config.offlineAfterMs })
  await app.register(
    async (api) => {
      requireApiKey(api, deps.registry, deps.config.authFailuresPerMin, deps.metrics)
      // Per API key (the key is known by preHandler); answered as problem+json by the error handler.
      await api.register(rateLimit, {
        hook: 'preHandler',
        max: deps.config.rateLimitPerMin,
        timeWindow: 60_000,
        keyGenerator: (request) => request.apiKey?.id ?? request.ip,
        errorResponseBuilder: (_request, context) => new AppError('IIOT_ERR_API_RATE_LIMITED', `more than ${context.max} requests per minute for this API key; retry in ${Math.ceil(context.ttl / 1000)} s`),
      })
      await api.register(telemetryRoutes, deps)
      await api.register(recordsRoutes, deps)
      await api.register(equipmentRoutes, deps)
      await api.register(productionCountRoutes, deps)
      await api.register(inspectionRoutes, deps)
      await api.register(streamRoutes, deps)
      await api.register(connectivityRoutes, deps)
      await api.register(parkRoutes, deps)
      await api.register(equipmentHistoryRoutes, deps)
      await api.register(oeeRoutes, deps)
      await api.register(spcRoutes, deps)
      await api.register(ingestRoutes, deps)
      await api.register(sparkplugRoutes, deps)
      await api.register(materialsRoutes, deps)
    },
    { prefix: '/api/v1' },
  )
  return app
}
