// What every page is handed: the hierarchy the key may read, and how to move between pages.
import { get } from './api.js'

export interface Shift {
  name: string
  start: string
  end: string
}
export interface HMachine {
  id: string
  name: string | null
  idealCycleTimeS: number
  state: string
  lastSeen: string | null
  online: boolean
}
export interface HFactory {
  id: string
  name: string | null
  timezone: string
  shifts: Shift[]
  lines: { id: string; name: string | null; machines: HMachine[] }[]
}
export interface Hierarchy {
  zones: { id: string; name: string | null; factories: HFactory[] }[]
}
export interface Ctx {
  readonly hierarchy: Hierarchy
  readonly offlineAfterS: number
  navigate(page: string, params: Record<string, string | undefined>): void
}
/** Renders into `root`; returns what stops its timers and streams. */
export type Page = (root: HTMLElement, params: Record<string, string>, ctx: Ctx) => () => void

export function factories(ctx: Ctx): (HFactory & { zone: string })[] {
  return ctx.hierarchy.zones.flatMap((z) => z.factories.map((f) => ({ ...f, zone: z.id })))
}

/** The factory named in the parameters, else the first the key may read. */
export function chosenFactory(ctx: Ctx, params: Record<string, string>): (HFactory & { zone: string }) | undefined {
  const all = factories(ctx)
  return all.find((f) => f.id === params.factory) ?? (params.factory ? undefined : all[0])
}

/**
 * A factory the key's hierarchy does not hold: ask the API anyway, so the page shows
 * its refusal (403 outside the key's scope, 404 unknown) rather than a guess.
 */
export async function refusal(factory: string): Promise<string> {
  try {
    await get('/equipment/state', { factory })
    return `factory "${factory}" is not in this key's hierarchy`
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}
