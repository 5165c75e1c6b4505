import type { InfluxConfig } from '../../config/config.js'

/** Authorization header for the configured flavour: Basic for 1.x credentials, Token for 2.x/3.x. */
export function authHeaders(config: InfluxConfig): Record<string, string> {
  if (config.flavor === 'v2') return { Authorization: `Token ${config.token}` }
  if (config.username !== undefined && config.password !== undefined) {
    return { Authorization: `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}` }
  }
  return {}
}
