import { readFileSync, readdirSync, statSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { join } from 'node:path'
import { errorCodes } from 'fastify'
import { describe, expect, it } from 'vitest'
import { errorCatalogue, fromFrameworkError, RETIRED_CODES, titleOf, type ErrorCode } from '../../src/errors.js'

const root = new URL('../../', import.meta.url).pathname
const codes = Object.keys(errorCatalogue).sort() as ErrorCode[]

/** The rows of the table in docs/errors.md: code, status, retriable. */
function documented(): { code: string; status: number; retriable: boolean }[] {
  const text = readFileSync(join(root, 'docs/errors.md'), 'utf8')
  return [...text.matchAll(/^\| `(IIOT_ERR_[A-Z0-9_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]), retriable: m[3] === 'yes' }))
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : []
  })
}

describe('the error catalogue and docs/errors.md', () => {
  it('documents every code of the catalogue, with its status and whether it is retriable, and no other', () => {
    const rows = documented()
    expect(rows.map((r) => r.code).sort()).toEqual(codes)
    for (const row of rows) expect(row, row.code).toEqual({ code: row.code, status: errorCatalogue[row.code as ErrorCode].status, retriable: errorCatalogue[row.code as ErrorCode].retriable })
  })

  it('names no code that is neither in the catalogue nor retired', () => {
    const text = readFileSync(join(root, 'docs/errors.md'), 'utf8')
    const known = new Set<string>([...codes, ...RETIRED_CODES])
    expect([...text.matchAll(/IIOT_ERR_[A-Z0-9_]+/g)].map((m) => m[0]).filter((c) => !known.has(c))).toEqual([])
  })

  it('lists the retired codes, which the catalogue no longer has', () => {
    const text = readFileSync(join(root, 'docs/errors.md'), 'utf8')
    const retired = text.slice(text.indexOf('## Retired codes'))
    expect([...retired.matchAll(/^- `(IIOT_ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]).sort()).toEqual([...RETIRED_CODES].sort())
    for (const code of RETIRED_CODES) expect(Object.keys(errorCatalogue)).not.toContain(code)
  })

  it('every code is raised somewhere in src/, so none is dead', () => {
    const text = sourceFiles(join(root, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n')
    const catalogue = readFileSync(join(root, 'src/errors.ts'), 'utf8')
    const raisedOutside = (code: string) => text.split(`'${code}'`).length - 1 > catalogue.split(`'${code}'`).length - 1
    // The framework table in errors.ts raises its codes too.
    const framework = new Set(Object.values(errorCodes).map((E) => fromFrameworkError(new (E as new () => Error)()).code))
    expect(codes.filter((c) => !raisedOutside(c) && !framework.has(c))).toEqual([])
  })

  it('titles are the reason phrases of the statuses', () => {
    for (const code of codes) expect(titleOf(errorCatalogue[code].status)).toBe(STATUS_CODES[errorCatalogue[code].status])
  })
})

describe('Fastify errors through the one table', () => {
  it('keeps the status of every Fastify client error and turns every server error into IIOT_ERR_INTERNAL', () => {
    for (const [name, E] of Object.entries(errorCodes)) {
      const fastifyError = new (E as new () => Error & { statusCode?: number })()
      const app = fromFrameworkError(fastifyError)
      expect(app.cause, name).toBe(fastifyError)
      if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) expect(app.status, name).toBe(fastifyError.statusCode)
      else expect(app.code, name).toBe('IIOT_ERR_INTERNAL')
    }
  })

  it('maps the 4xx statuses of other framework errors, and answers an unknown one as a bad request', () => {
    const withStatus = (statusCode: number) => Object.assign(new Error('x'), { statusCode })
    expect(fromFrameworkError(withStatus(429)).code).toBe('IIOT_ERR_API_RATE_LIMITED')
    expect(fromFrameworkError(withStatus(401)).code).toBe('IIOT_ERR_API_UNAUTHENTICATED')
    expect(fromFrameworkError(withStatus(409)).code).toBe('IIOT_ERR_API_BAD_REQUEST')
    expect(fromFrameworkError(new Error('no status')).code).toBe('IIOT_ERR_INTERNAL')
  })
})
