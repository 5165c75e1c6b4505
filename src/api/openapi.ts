import { STATUS_CODES } from 'node:http'
import type { FastifyBaseLogger, FastifyReply, FastifySchema } from 'fastify'
import { jsonSchemaTransform } from 'fastify-type-provider-zod'
import type { OpenAPIV3 } from 'openapi-types'
import { safeEncode, type $ZodType } from 'zod/v4/core'
import { errorCatalogue } from '../errors.js'

/**
 * What the OpenAPI document says beyond the routes' own zod schemas (docs/api.md, "Errors" and
 * "OpenAPI"): every operation's error answers as problem+json, the other media types an
 * operation answers with (CSV, Server-Sent Events, Prometheus text), and an operationId.
 * None of it changes what a route does at run time.
 */

declare module 'fastify' {
  interface FastifySchema {
    /** Read only by the document: the other media types of the 200 answer, each with a description of its body. */
    'x-media'?: Readonly<Record<string, string>>
  }
}

export const problemSchema: OpenAPIV3.SchemaObject = {
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: 'a URI naming the error code' },
    title: { type: 'string', description: "the status's reason phrase" },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'what is wrong, in words; for a 5xx a fixed text (the cause is in the service log)' },
    code: { type: 'string', enum: Object.keys(errorCatalogue), description: 'the stable error code (docs/errors.md)' },
    instance: { type: 'string', description: 'the request path' },
    errors: {
      type: 'array',
      description: 'for a 400: each bad parameter and what is wrong with it',
      items: { type: 'object', required: ['parameter', 'message'], properties: { parameter: { type: 'string' }, message: { type: 'string' } } },
    },
  },
}

const retryAfter = { 'Retry-After': { type: 'integer', minimum: 0, description: 'seconds to wait before retrying' } }

function problemResponse(description: string, headers?: typeof retryAfter): Record<string, unknown> {
  return { description, ...(headers && { headers }), content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }
}

/** The error answers an operation can give, from what its route declares. */
function errorResponses(schema: FastifySchema & { security?: unknown }): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  if (schema.querystring || schema.params || schema.body || schema.headers) out['400'] = problemResponse('a parameter is missing, unknown or invalid: `errors` names each one')
  // The API-key operations; the broker's own endpoints answer in the broker's format instead.
  if (schema.security) {
    out['401'] = problemResponse('no API key, or one that is unknown, revoked or wrong')
    out['403'] = problemResponse("the key's scope does not cover what was asked")
    out['404'] = problemResponse('a zone, factory, line, machine or edge node that is not in the registry')
    out['429'] = problemResponse('too many requests for this key, or failed key checks from this address', retryAfter)
    out['503'] = problemResponse('InfluxDB is unreachable or overloaded', retryAfter)
  }
  out['default'] = problemResponse('any other error (413, 414, 415, 500, 502), as problem details')
  return out
}

/** `GET /api/v1/materials/lots/{lot}/trace` → `getMaterialsLotsTrace`. */
export function operationId(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1\//, '/')
    .split('/')
    .filter((s) => s !== '' && !s.startsWith(':') && !s.startsWith('{'))
    .flatMap((s) => s.split(/[-_.]/))
  return method.toLowerCase() + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')
}

type TransformInput = Parameters<typeof jsonSchemaTransform>[0]

/** @fastify/swagger's `transform`: the zod schemas as JSON Schema, then what this module adds. */
export function documentTransform(input: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const media = input.schema?.['x-media']
  const out = jsonSchemaTransform(input)
  const schema = out.schema as Record<string, unknown> & { hide?: boolean; response?: Record<string, unknown>; 'x-media'?: unknown }
  if (!schema || schema.hide) return out
  delete schema['x-media']
  const response: Record<string, unknown> = {}
  for (const [status, body] of Object.entries(schema.response ?? {})) {
    const b = body as { content?: unknown; description?: string }
    response[status] = b.content ? b : { description: b.description ?? STATUS_CODES[Number(status)] ?? status, content: { 'application/json': { schema: body } } }
  }
  if (media) {
    const ok = (response['200'] ?? { description: 'OK', content: {} }) as { content: Record<string, unknown> }
    for (const [type, description] of Object.entries(media)) ok.content[type] = { schema: { type: 'string', description } }
    response['200'] = ok
  }
  for (const [status, answer] of Object.entries(errorResponses(input.schema ?? {}))) response[status] ??= answer
  schema.response = response
  schema.operationId ??= operationId(input.route.method as string, input.url)
  return out
}

/**
 * Sends a CSV or other text answer from a route whose `response` schema is its JSON answer (the
 * text's media type is in the route's `x-media`): a string is sent as it is, never serialized.
 */
export function sendCsv(reply: FastifyReply, filename: string, csv: string): FastifyReply {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`).send(csv as never)
}

/**
 * Serializes a JSON answer through its route's zod response schema (unknown keys stripped, as
 * documented). An answer that does not match its documented schema is still sent, as it is,
 * and logged with the route: the data is the client's, the mismatch is the document's bug.
 */
export function lenientSerializerCompiler(log: FastifyBaseLogger, onMismatch: (route: string) => void) {
  return ({ schema, method, url }: { schema: unknown; method: string; url: string }) => {
    const zodSchema = schema as $ZodType
    const route = `${method} ${url}`
    return (data: unknown): string => {
      const result = safeEncode(zodSchema, data)
      if (result.success) return JSON.stringify(result.data)
      onMismatch(route)
      log.error({ route, issues: result.error.issues.slice(0, 5) }, 'answer does not match its documented schema; sent as it is')
      return JSON.stringify(data)
    }
  }
}
