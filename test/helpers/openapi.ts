import { Ajv, type ValidateFunction } from 'ajv'

/** An OpenAPI 3.0 document, as far as these checks read it. */
export interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, { operationId?: string; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>
  components?: { schemas?: Record<string, unknown> }
}

/** OpenAPI 3.0's `nullable` as JSON Schema, and its component references resolvable under one id. */
function toJsonSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toJsonSchema)
  if (s === null || typeof s !== 'object') return s
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable') continue
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/components\/schemas\//, 'openapi#/definitions/') : toJsonSchema(v)
  }
  if ((s as { nullable?: boolean }).nullable !== true) return out
  if (Array.isArray(out.enum)) out.enum = [...out.enum, null]
  return typeof out.type === 'string' ? { ...out, type: [out.type, 'null'] } : { anyOf: [out, { type: 'null' }] }
}

/**
 * Checks answers against an OpenAPI document the way an outside contract tester does: the
 * status must be documented for the operation (or covered by `default`), the media type
 * documented for that status, and a JSON body must match the documented schema.
 */
export function openApiChecker(doc: OpenApiDoc): (method: string, template: string, status: number, contentType: string, body: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true, strict: false })
  ajv.addSchema({ $id: 'openapi', definitions: toJsonSchema(doc.components?.schemas ?? {}) })
  const compiled = new Map<string, ValidateFunction>()
  return (method, template, status, contentType, body) => {
    const op = doc.paths[template]?.[method.toLowerCase()]
    if (!op) return [`${method} ${template} is not in the document`]
    const answer = op.responses[String(status)] ?? op.responses.default
    if (!answer) return [`${method} ${template}: status ${status} is not documented (${Object.keys(op.responses).join(', ')})`]
    const media = contentType.split(';')[0]!.trim()
    const content = answer.content?.[media]
    if (!content) return [`${method} ${template} ${status}: media type ${media} is not documented (${Object.keys(answer.content ?? {}).join(', ')})`]
    if (!media.endsWith('json') || content.schema === undefined) return []
    const key = `${method} ${template} ${status} ${media}`
    let validate = compiled.get(key)
    if (!validate) compiled.set(key, (validate = ajv.compile(toJsonSchema(content.schema) as object)))
    return validate(body) ? [] : (validate.errors ?? []).slice(0, 5).map((e) => `${key}: ${e.instancePath || '(body)'} ${e.message}`)
  }
}
