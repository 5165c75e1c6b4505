import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Secrets (gateway passwords, API keys) are stored as
 * `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`; verification is constant-time.
 */
const DEFAULT = { N: 16384, r: 8, p: 1 }
const KEY_LENGTH = 32

function scryptAsync(secret: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

export async function hashSecret(secret: string, params: { N: number; r: number; p: number } = DEFAULT): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(secret, salt, KEY_LENGTH, params)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$')
}

export const SECRET_HASH_PATTERN = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/

/**
 * Checks a secret against its stored hash; throws SecretChecksBusy when more checks wait than
 * the gate holds (the caller answers "busy, retry", never "wrong secret").
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string]
  const expected = Buffer.from(hashB64, 'base64')
  await takeSlot()
  let key: Buffer
  try {
    key = await scryptAsync(secret, Buffer.from(saltB64, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) })
  } finally {
    releaseSlot()
  }
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/**
 * Secret checks running at once. scrypt runs on libuv's thread pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), which the journal's file writes share: a flood of CONNECTs
 * with wrong secrets, each a 30 ms hash, held every thread, and every gateway's PUBACK waited
 * behind it for seconds. Two checks at a time leave the other threads to the journal (docs/security.md).
 */
export const MAX_CONCURRENT_CHECKS = 2
/** Checks that may wait for a slot; beyond them a check is refused at once. */
export const MAX_WAITING_CHECKS = 256

/** More secret checks waiting than the gate holds: answer "busy, retry later". */
export class SecretChecksBusy extends Error {
  constructor() {
    super(`more than ${MAX_WAITING_CHECKS} secret checks are waiting`)
  }
}

let running = 0
const waiting: (() => void)[] = []

function takeSlot(): Promise<void> | void {
  if (running < MAX_CONCURRENT_CHECKS) {
    running++
    return
  }
  if (waiting.length >= MAX_WAITING_CHECKS) throw new SecretChecksBusy()
  // The slot is handed over by releaseSlot: `running` stays counted for the waiter.
  return new Promise<void>((resolve) => waiting.push(resolve))
}

function releaseSlot(): void {
  const next = waiting.shift()
  if (next) next()
  else running--
}

/** Secret checks running and waiting now (tests, metrics). */
export function secretChecks(): { running: number; waiting: number } {
  return { running, waiting: waiting.length }
}

/**
 * A stored hash that no secret matches (random salt and random hash bytes),
 * with the cost parameters and hash length of `like` (default: ours).
 * Checking a secret against it costs what checking against `like` costs, so
 * a lookup that finds nothing can still pay the full price.
 */
export function decoyHash(like?: string): string {
  const parts = like?.split('$')
  const [n, r, p, hashB64] = parts?.length === 6 && SECRET_HASH_PATTERN.test(like!) ? [parts[1], parts[2], parts[3], parts[5]] : [DEFAULT.N, DEFAULT.r, DEFAULT.p, undefined]
  const length = hashB64 === undefined ? KEY_LENGTH : Buffer.from(hashB64, 'base64').length
  return ['scrypt', n, r, p, randomBytes(16).toString('base64'), randomBytes(length).toString('base64')].join('$')
}

/** A new random secret: 32 bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url')
}
