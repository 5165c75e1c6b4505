import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { RegistrySource } from '../../registry/registry-store.js'
import { authenticateBrokerClient, authorizeBrokerClient, sameSecret, type BrokerAccessConfig } from '../../source/broker-access.js'

const answer = z.object({ result: z.enum(['allow', 'deny']), is_superuser: z.boolean().optional() })
const response = { 200: answer, 401: answer.describe('the broker secret is missing or wrong: {"result":"deny"}') }

/**
 * HTTP authentication and authorization for an external broker (EMQX 5's `http` authenticator
 * and authorizer; docs/scaling-out.md), so the registry stays the one source of truth of who may
 * connect and publish where. The broker presents `Authorization: Bearer {BROKER_AUTH_SECRET}`;
 * answers are EMQX's `{"result": "allow" | "deny"}`. Registered only when the secret is set.
 */
export const brokerAuthRoutes: FastifyPluginAsync<{ registry: RegistrySource; access: BrokerAccessConfig }> = async (root, opts) => {
  const app = root.withTypeProvider<ZodTypeProvider>()
  const { registry, access } = opts
  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization ?? ''
    if (!header.startsWith('Bearer ') || !sameSecret(header.slice(7), access.secret)) return reply.code(401).send({ result: 'deny' })
  })
  app.post('/auth', {
    schema: {
      tags: ['broker'],
      summary: 'Broker HTTP authentication: may this username/password connect?',
      description: 'For an external broker (EMQX\'s http authenticator), with `Authorization: Bearer <BROKER_AUTH_SECRET>`; present only when BROKER_AUTH_SECRET is set.',
      body: z.object({ username: z.string().max(256).default(''), password: z.string().max(1024).default(''), clientid: z.string().max(65_535).optional() }),
      response,
    },
  }, async (request) => {
    const { username, password } = request.body
    return { result: (await authenticateBrokerClient(registry.current(), access, username, password)) ? 'allow' : 'deny', is_superuser: false } as const
  })
  app.post('/acl', {
    schema: {
      tags: ['broker'],
      summary: 'Broker HTTP authorization: may this username publish to / subscribe to this topic?',
      description: 'For an external broker (EMQX\'s http authorizer), with `Authorization: Bearer <BROKER_AUTH_SECRET>`; present only when BROKER_AUTH_SECRET is set.',
      body: z.object({ username: z.string().max(256).default(''), clientid: z.string().max(65_535).optional(), topic: z.string().min(1).max(65_535), action: z.enum(['publish', 'subscribe']) }),
      response,
    },
  }, async (request) => {
    const { username, action, topic } = request.body
    return { result: authorizeBrokerClient(registry.current(), access, username, action, topic) ? 'allow' : 'deny' } as const
  })
}
