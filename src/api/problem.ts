import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { AppError, isAppError, type ErrorCode } from '../errors.js'
import { StorageError } from '../storage/ports.js'

/** RFC 9457 problem details, the body of every error answer. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  instance?: string
  errors?: { parameter: string; message: string }[]
}

export const problemSchemaDescription = 'application/problem+json (RFC 9457): type, title, status, detail, code, and for 400 the list of bad parameters'

const TITLES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' }

export function sendProblem(reply: FastifyReply, request: FastifyRequest, status: number, code: ErrorCode, detail: string, errors?: Problem['errors']): FastifyReply {
  const body: Problem = { type: `https://iiot-ingest.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title: TITLES[status] ?? 'Error', status, detail, code, instance: request.url.split('?')[0]! }
  if (errors) body.errors = errors
  return reply.code(status).type('application/problem+json').send(body)
}

/** The one error handler: maps every error to a problem; hides internals of 5xx. */
export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors = error.validation.map((v) => {
      const path = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.')
      const name = path || String((v.params as { issue?: { path?: unknown[] } })?.issue?.path?.[0] ?? error.validationContext ?? 'request')
      return { parameter: name, message: v.message ?? 'invalid' }
    })
    const detail = errors.map((e) => `${e.parameter}: ${e.message}`).join('; ')
    return sendProblem(reply, request, 400, 'IIOT_ERR_API_BAD_REQUEST', `invalid ${error.validationContext ?? 'request'}: ${detail}`, errors)
  }
  if (isAppError(error)) {
    if (error.status >= 500) request.log.error({ err: error }, 'request failed')
    if (error.retryAfterS !== undefined) void reply.header('retry-after', String(error.retryAfterS))
    return sendProblem(reply, request, error.status, error.code, error.status >= 500 ? 'the service failed to answer; see its logs' : error.message, error.details?.map((d) => toParam(d)))
  }
  if (error instanceof StorageError) {
    request.log.error({ err: error }, 'storage failed')
    return sendProblem(reply, request, error.retriable ? 503 : 502, error.retriable ? 'IIOT_ERR_STORAGE_UNAVAILABLE' : 'IIOT_ERR_STORAGE_QUERY', error.retriable ? 'InfluxDB is unreachable; retry later' : 'InfluxDB refused the query')
  }
  const status = (error as FastifyError).statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    const codes: Record<number, ErrorCode> = { 401: 'IIOT_ERR_API_UNAUTHENTICATED', 403: 'IIOT_ERR_API_FORBIDDEN', 404: 'IIOT_ERR_API_NOT_FOUND', 413: 'IIOT_ERR_API_TOO_LARGE', 429: 'IIOT_ERR_API_RATE_LIMITED' }
    const code = codes[status] ?? 'IIOT_ERR_API_BAD_REQUEST'
    return sendProblem(reply, request, status, code, error.message)
  }
  request.log.error({ err: error }, 'unexpected error')
  return sendProblem(reply, request, 500, 'IIOT_ERR_INTERNAL', 'the service failed to answer; see its logs')
}

function toParam(detail: string): { parameter: string; message: string } {
  const i = detail.indexOf(': ')
  return i > 0 ? { parameter: detail.slice(0, i), message: detail.slice(i + 2) } : { parameter: 'request', message: detail }
}

export function badRequest(parameter: string, message: string): AppError {
  return new AppError('IIOT_ERR_API_BAD_REQUEST', `${parameter}: ${message}`, { details: [`${parameter}: ${message}`] })
}
