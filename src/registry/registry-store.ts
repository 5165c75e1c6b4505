import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { Logger } from 'pino'
import { AppError, isAppError } from '../errors.js'
import { Registry } from './registry.js'

/** Reads and validates the registry file. */
export async function readRegistryFile(path: string): Promise<Registry> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new AppError('IIOT_ERR_REGISTRY_IO', `cannot read registry file ${path} (set REGISTRY_FILE, or create it with "npm run registry -- init")`, { cause })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    throw new AppError('IIOT_ERR_REGISTRY_INVALID', `registry file ${path} is not valid JSON: ${(cause as Error).message}`, { cause })
  }
  return Registry.fromJson(raw)
}

export interface RegistrySource {
  /** The snapshot in force now; never cached by callers across awaits that may span a reload. */
  current(): Registry
  /** Calls `listener` with each registry that comes into force by a reload; returns its removal. */
  onReload?(listener: (registry: Registry) => void): () => void
}

/**
 * Holds the current registry and swaps it on reload. A reload that fails
 * validation keeps the previous registry (and logs why), so a typo never
 * takes gateways offline. Listeners hear of each registry put in force (the
 * broker closes the connections of gateways it no longer admits).
 */
export class RegistryStore implements RegistrySource {
  private registry: Registry
  private watcher: FSWatcher | undefined
  private debounce: NodeJS.Timeout | undefined
  private reloading: Promise<boolean> | undefined
  private readonly listeners = new Set<(registry: Registry) => void>()

  private constructor(
    private readonly path: string,
    initial: Registry,
    private readonly log: Logger,
    private readonly counted: (outcome: 'ok' | 'failed') => void,
  ) {
    this.registry = initial
  }

  /** `counted` hears of each reload's outcome (the service counts them in its metrics). */
  static async open(path: string, log: Logger, counted: (outcome: 'ok' | 'failed') => void = () => undefined): Promise<RegistryStore> {
    return new RegistryStore(path, await readRegistryFile(path), log, counted)
  }

  current(): Registry {
    return this.registry
  }

  onReload(listener: (registry: Registry) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  /** Re-reads the file; resolves true when the new registry is in force. */
  reload(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined
    })
    return this.reloading
  }

  private async doReload(): Promise<boolean> {
    try {
      this.registry = await readRegistryFile(this.path)
      this.log.info({ gateways: this.registry.file.gateways.length, apiKeys: this.registry.file.apiKeys.length }, 'registry reloaded')
      this.counted('ok')
      for (const l of this.listeners) {
        try {
          l(this.registry)
        } catch (err) {
          this.log.error({ err }, 'a registry listener failed')
        }
      }
      return true
    } catch (err) {
      this.log.error({ err: isAppError(err) ? { code: err.code, message: err.message } : err }, 'registry reload failed; keeping the previous registry')
      this.counted('failed')
      return false
    }
  }

  /** Reloads when the file changes (watching its directory, so editors that replace the file are seen). */
  watch(debounceMs = 200): void {
    if (this.watcher) return
    const file = basename(this.path)
    this.watcher = watch(dirname(this.path), (_event, name) => {
      if (name !== null && name !== file) return
      clearTimeout(this.debounce)
      this.debounce = setTimeout(() => void this.reload(), debounceMs)
    })
    this.watcher.on('error', (err) => this.log.warn({ err }, 'registry watch failed; SIGHUP still reloads'))
  }

  close(): void {
    clearTimeout(this.debounce)
    this.watcher?.close()
    this.watcher = undefined
  }
}
