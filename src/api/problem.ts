import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { AppError, fromFrameworkError, isAppError, titleOf, type ErrorCode } from '../errors.js'

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

/** Answers an AppError as a problem: status, title and (for 5xx) detail come from the catalogue (docs/errors.md). */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  const status = error.status
  const body: Problem = { type: `https://iiot-ingest.dev/problems/${error.code.toLowerCase().replace(/_/g, '-')}`, title: titleOf(status), status, detail: error.publicDetail, code: error.code, instance: request.url.split('?')[0]! }
  if (status < 500 && error.details) body.errors = error.details.map((d) => toParam(d))
  if (error.retryAfterS !== undefined) void reply.header('retry-after', String(error.retryAfterS))
  return reply.code(status).type('application/problem+json').send(body)
}

/** The one error handler: every error becomes an AppError, answered as a problem; 5xx are logged, their internals never sent. */
export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appError = toAppError(error)
  if (appError.status >= 500) request.log.error({ err: appError }, 'request failed')
  return sendProblem(reply, request, appError)
}

function toAppError(error: FastifyError | Error): AppError {
  if (isAppError(error)) return error
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((v) => {
      const path = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.')
      const name = path || String((v.params as { issue?: { path?: unknown[] } })?.issue?.path?.[0] ?? error.validationContext ?? 'request')
      return `${name}: ${v.message ?? 'invalid'}`
    })
    return new AppError('IIOT_ERR_API_BAD_REQUEST', `invalid ${error.validationContext ?? 'request'}: ${details.join('; ')}`, { details, cause: error })
  }
  // Fastify's own errors and anything else: through the table in errors.ts.
  return fromFrameworkError(error)
}

function toParam(detail: string): { parameter: string; message: string } {
  const i = detail.indexOf(': ')
  return i > 0 ? { parameter: detail.slice(0, i), message: detail.slice(i + 2) } : { parameter: 'request', message: detail }
}

export function badRequest(parameter: string, message: string): AppError {
  return new AppError('IIOT_ERR_API_BAD_REQUEST', `${parameter}: ${message}`, { details: [`${parameter}: ${message}`] })
}
