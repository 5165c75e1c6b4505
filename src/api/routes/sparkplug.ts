import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../errors.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { resolveScope } from '../scope.js'

const sparkplugId = z.string().min(1).max(128).regex(/^[^/+#]+$/, 'a Sparkplug id: no "/", "+" or "#"')

/** Commands to Sparkplug B edge nodes (docs/sparkplug.md). */
export const sparkplugRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.post(
    '/sparkplug/:group/:edgeNode/rebirth',
    {
      schema: {
        tags: ['sparkplug'],
        summary: 'Ask a Sparkplug edge node to publish its births again',
        description:
          'Publishes NCMD `Node Control/Rebirth` = true to the edge node, as the host does by itself when an alias is unknown or a seq gap does not close. For data that looks stale. The key must cover the factory of the node\'s group; at most one request per node every SPARKPLUG_REBIRTH_MIN_INTERVAL_MS (429 otherwise). Logged with the key id.',
        security: [{ bearerAuth: [] }],
        params: z.object({ group: sparkplugId, edgeNode: sparkplugId }),
        response: { 202: z.object({ group: z.string(), edgeNode: z.string(), sent: z.literal(true) }) },
      },
    },
    async (request, reply) => {
      const { group, edgeNode } = request.params
      const key = apiKeyOf(request)
      const reg = deps.registry.current()
      const node = reg.sparkplugNode(group, edgeNode)
      if (!node || !deps.sparkplug) throw new AppError('IIOT_ERR_API_NOT_FOUND', `edge node "${edgeNode}" of Sparkplug group "${group}" is not in the registry`)
      // The same scope rule as every read: a key scoped elsewhere gets 403.
      resolveScope(reg, key, { factory: node.factory })
      if (!deps.sparkplug.requestRebirth(group, edgeNode)) throw new AppError('IIOT_ERR_API_RATE_LIMITED', `a rebirth request went to ${group}/${edgeNode} less than SPARKPLUG_REBIRTH_MIN_INTERVAL_MS ago`)
      request.log.info({ key: key.id, group, edgeNode }, 'Sparkplug rebirth requested through the API')
      return reply.code(202).send({ group, edgeNode, sent: true as const })
    },
  )
}
