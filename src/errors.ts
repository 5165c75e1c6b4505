import { STATUS_CODES } from 'node:http'

/**
 * The error catalogue (docs/errors.md, which a test holds in step with it).
 * Codes are stable (`IIOT_ERR_<AREA>_<WHAT>`) and never reused; the HTTP
 * status of each code is chosen here and only here. `publicDetail` is what a
 * 5xx answer says instead of the message, which may hold internals.
 */
export const errorCatalogue = {
  IIOT_ERR_CONFIG_INVALID: { status: 500, retriable: false },
  IIOT_ERR_REGISTRY_INVALID: { status: 500, retriable: false },
  IIOT_ERR_REGISTRY_IO: { status: 500, retriable: true },
  IIOT_ERR_STORAGE_UNAVAILABLE: { status: 503, retriable: true, publicDetail: 'InfluxDB is unreachable or overloaded; retry later' },
  IIOT_ERR_STORAGE_QUERY: { status: 502, retriable: false, publicDetail: 'InfluxDB refused the query; see the service logs' },
  IIOT_ERR_API_BAD_REQUEST: { status: 400, retriable: false },
  IIOT_ERR_API_UNAUTHENTICATED: { status: 401, retriable: false },
  IIOT_ERR_API_FORBIDDEN: { status: 403, retriable: false },
  IIOT_ERR_API_NOT_FOUND: { status: 404, retriable: false },
  IIOT_ERR_API_TOO_LARGE: { status: 413, retriable: false },
  IIOT_ERR_API_URI_TOO_LONG: { status: 414, retriable: false },
  IIOT_ERR_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false },
  IIOT_ERR_API_RATE_LIMITED: { status: 429, retriable: true },
  IIOT_ERR_INTERNAL: { status: 500, retriable: false },
} as const satisfies Record<`IIOT_ERR_${string}`, { status: number; retriable: boolean; publicDetail?: string }>

export type ErrorCode = keyof typeof errorCatalogue

/** Codes that left the catalogue; never to be used again for anything else. */
export const RETIRED_CODES = ['IIOT_ERR_STORAGE_REJECTED'] as const

const DEFAULT_PUBLIC_DETAIL = 'the service failed to answer; see its logs'

export class AppError extends Error {
  readonly code: ErrorCode
  readonly details: readonly string[] | undefined
  readonly retriable: boolean
  /** When retrying may succeed, in whole seconds (sent as Retry-After). */
  readonly retryAfterS: number | undefined

  constructor(code: ErrorCode, message: string, options: { details?: readonly string[]; cause?: unknown; retriable?: boolean; retryAfterS?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.details = options.details
    this.retriable = options.retriable ?? errorCatalogue[code].retriable
    this.retryAfterS = options.retryAfterS
  }

  get status(): number {
    return errorCatalogue[this.code].status
  }

  /** What an HTTP answer may say: the message for client errors, a fixed sentence for server errors. */
  get publicDetail(): string {
    const entry = errorCatalogue[this.code]
    return this.status < 500 ? this.message : 'publicDetail' in entry ? entry.publicDetail : DEFAULT_PUBLIC_DETAIL
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError
}

/** A problem's title: the reason phrase of its status (RFC 9457 §3.1.4). */
export function titleOf(status: number): string {
  return STATUS_CODES[status] ?? 'Error'
}

/**
 * The codes of the HTTP framework's own client errors (Fastify's router, URL
 * and body parsers, and plugins that throw errors with a `statusCode`), by
 * that status. A 4xx not listed is answered as a bad request.
 */
const FRAMEWORK_STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'IIOT_ERR_API_BAD_REQUEST',
  401: 'IIOT_ERR_API_UNAUTHENTICATED',
  403: 'IIOT_ERR_API_FORBIDDEN',
  404: 'IIOT_ERR_API_NOT_FOUND',
  413: 'IIOT_ERR_API_TOO_LARGE',
  414: 'IIOT_ERR_API_URI_TOO_LONG',
  415: 'IIOT_ERR_API_UNSUPPORTED_MEDIA_TYPE',
  429: 'IIOT_ERR_API_RATE_LIMITED',
}

/** A framework error as an AppError (the error is its cause): its 4xx through the table above; anything else is internal. */
export function fromFrameworkError(err: Error & { statusCode?: number }): AppError {
  const status = err.statusCode
  if (status !== undefined && status >= 400 && status < 500) return new AppError(FRAMEWORK_STATUS_CODES[status] ?? 'IIOT_ERR_API_BAD_REQUEST', err.message, { cause: err })
  return new AppError('IIOT_ERR_INTERNAL', err.message, { cause: err })
}
