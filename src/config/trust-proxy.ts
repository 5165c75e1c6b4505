import { isIP } from 'node:net'
import type { z } from 'zod'

const PROXY_ADDRESS_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/**
 * API_TRUST_PROXY: false, true, or the proxies' addresses / CIDR ranges / loopback, linklocal, uniquelocal.
 * No hop count: it would trust whoever connects directly, so Fastify 5 treats one as "trust nothing".
 */
export function trustProxy(value: string, ctx: z.RefinementCtx): boolean | readonly string[] {
  const v = value.trim()
  if (v === 'false' || v === '') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: 'a hop count would trust any direct client (Fastify ignores it); name the proxies\' addresses or CIDR ranges instead' })
    return false
  }
  const entries = v.split(',').map((a) => a.trim())
  const bad = entries.filter((a) => !PROXY_ADDRESS_NAMES.has(a) && !isAddressOrRange(a))
  if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not an address, CIDR range or one of loopback, linklocal, uniquelocal: ${bad.join(', ')}` })
  return entries
}

function isAddressOrRange(text: string): boolean {
  const [address, bits, ...rest] = text.split('/')
  const family = isIP(address ?? '')
  if (family === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))
}
