import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Mosquitto 2's password-file hash (mosquitto_passwd(1), "$7$"): PBKDF2-HMAC-SHA512 over a
 * 12-byte random salt, 64-byte key, stored as `$7$<iterations>$<salt b64>$<key b64>`.
 * A gateway's registry entry may carry one beside its scrypt hash (`brokerHash`), made when its
 * secret is issued, so the Mosquitto password file can be generated from the registry
 * (docs/scaling-out.md). mosquitto_passwd uses 101 iterations; we spend more per check: a
 * gateway connects rarely, and the file may leak from the broker's host.
 */
export const MOSQUITTO_HASH_ITERATIONS = 10_000
export const MOSQUITTO_HASH_PATTERN = /^\$7\$\d{1,7}\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/

function derive(secret: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(secret, salt, iterations, 64, 'sha512', (err, key) => (err ? reject(err) : resolve(key))))
}

export async function mosquittoHash(secret: string, iterations = MOSQUITTO_HASH_ITERATIONS): Promise<string> {
  const salt = randomBytes(12)
  const key = await derive(secret, salt, iterations)
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`
}

export async function verifyMosquittoHash(secret: string, stored: string): Promise<boolean> {
  if (!MOSQUITTO_HASH_PATTERN.test(stored)) return false
  const [, , iterations, salt, key] = stored.split('$') as [string, string, string, string, string]
  const expected = Buffer.from(key, 'base64')
  const got = await derive(secret, Buffer.from(salt, 'base64'), Number(iterations))
  return timingSafeEqual(got, expected)
}
