/**
 * The error catalogue. Codes are stable (`IIOT_ERR_<AREA>_<WHAT>`) and never reused;
 * the HTTP status for each code is chosen here and only here.
 */
export const errorCatalogue = {
  IIOT_ERR_CONFIG_INVALID: { status: 500, retriable: false },
  IIOT_ERR_REGISTRY_INVALID: { status: 500, retriable: false },
  IIOT_ERR_REGISTRY_IO: { status: 500, retriable: true },
  IIOT_ERR_STORAGE_UNAVAILABLE: { status: 503, retriable: true },
  IIOT_ERR_STORAGE_REJECTED: { status: 502, retriable: false },
  IIOT_ERR_STORAGE_QUERY: { status: 502, retriable: false },
  IIOT_ERR_API_BAD_REQUEST: { status: 400, retriable: false },
  IIOT_ERR_API_UNAUTHENTICATED: { status: 401, retriable: false },
  IIOT_ERR_API_FORBIDDEN: { status: 403, retriable: false },
  IIOT_ERR_API_NOT_FOUND: { status: 404, retriable: false },
  IIOT_ERR_API_TOO_LARGE: { status: 413, retriable: false },
  IIOT_ERR_API_RATE_LIMITED: { status: 429, retriable: true },
  IIOT_ERR_INTERNAL: { status: 500, retriable: false },
} as const

export type ErrorCode = keyof typeof errorCatalogue

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
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError
}
