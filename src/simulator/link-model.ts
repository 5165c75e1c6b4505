import { RADIO_ACCESS, type LinkReportMsg } from './messages.js'
import { createPrng } from './prng.js'

export const CONNECTIVITY_INTERVAL_MS = 10_000

// Typical figures per access type: round trip to an on-site broker, and cell capacity.
const PROFILES = {
  [RADIO_ACCESS.nrSa]: { rttMs: 9, uplinkMbps: 140, downlinkMbps: 650 },
  [RADIO_ACCESS.nrNsa]: { rttMs: 20, uplinkMbps: 70, downlinkMbps: 380 },
  [RADIO_ACCESS.lte]: { rttMs: 38, uplinkMbps: 25, downlinkMbps: 90 },
} as const

type Access = keyof typeof PROFILES

const clamp = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v))
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/** The access a factory's gateways use, fixed by its position in the credentials file. */
export function accessForFactory(factoryIndex: number): Access {
  const options: readonly Access[] = [RADIO_ACCESS.nrSa, RADIO_ACCESS.nrNsa, RADIO_ACCESS.lte]
  return options[factoryIndex % options.length]!
}

/**
 * A gateway's cellular uplink: RSRP wanders (mean-reverting) between -80 and
 * -110 dBm; RSRQ, SINR, round trip and throughput follow it. A standalone 5G
 * gateway now and then falls back to NSA, and rarely hands over to a
 * neighbouring cell.
 */
export function createLinkModel(factoryIndex: number, seed: number): { report(nowMs: number): LinkReportMsg } {
  const prng = createPrng(seed)
  const home = accessForFactory(factoryIndex)
  const baseRsrp = prng.range(-102, -86)
  const gnb = prng.int(100_000, 999_999)
  let cell = prng.int(1, 3)
  let rsrp = baseRsrp

  return {
    report(nowMs) {
      rsrp = clamp(rsrp + 0.2 * (baseRsrp - rsrp) + prng.normal(0, 1.5), -110, -80)
      if (prng.chance(0.02)) cell = (cell % 3) + 1
      const access: Access = home === RADIO_ACCESS.nrSa && prng.chance(0.03) ? RADIO_ACCESS.nrNsa : home
      const p = PROFILES[access]
      const strength = (rsrp + 110) / 30 // 0 at -110 dBm, 1 at -80 dBm
      const sinr = clamp(prng.normal(2 + 24 * strength, 2), -5, 30)
      const rsrq = clamp(prng.normal(-15 + 9 * strength, 0.8), -20, -3)
      const capacity = clamp(0.3 + 0.7 * (sinr / 25), 0.1, 1)
      return {
        access,
        rsrpDbm: round(rsrp, 1),
        rsrqDb: round(rsrq, 1),
        sinrDb: round(sinr, 1),
        rttMs: round(p.rttMs * (1 + 0.5 * (1 - strength)) + prng.exponential(p.rttMs * 0.15), 1),
        uplinkMbps: round(p.uplinkMbps * capacity * prng.range(0.85, 1.05), 1),
        downlinkMbps: round(p.downlinkMbps * capacity * prng.range(0.85, 1.05), 1),
        cellId: `452-04-${gnb}-${cell}`,
        tsMs: nowMs,
      }
    },
  }
}
