import { AppError } from '../errors.js'

const WHY: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is in use by another process',
  EACCES: 'not allowed (a port below 1024 needs privileges)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
}

/**
 * A listener that could not bind, as a start-up error naming the variable to fix: the port's for a
 * port in use or refused, the host's for an address this machine does not have.
 */
export function listenError(err: unknown, vars: { host: string; port: string }, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  const why = WHY[code]
  if (!why) return err as Error
  const variable = code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? vars.host : vars.port
  return new AppError('IIOT_ERR_CONFIG_INVALID', `${variable}: cannot listen on ${host}:${port}: ${why} (${code})`, { cause: err })
}
