import type { Aedes, Client } from 'aedes'
import { isUnderRoot, TOPIC_ROOT } from '../domain/topic.js'
import { DEVICE_MESSAGE_TYPES, isSparkplugTopic, NODE_MESSAGE_TYPES } from '../sparkplug/topic.js'

/** Sparkplug B message types no client may subscribe to: all but the commands (docs/security.md: STATE and commands only). */
const SPARKPLUG_DATA: ReadonlySet<string> = new Set([...NODE_MESSAGE_TYPES, ...DEVICE_MESSAGE_TYPES].filter((t) => t !== 'NCMD' && t !== 'DCMD'))

/**
 * Which published topics some client may receive. A gateway is granted subscriptions only inside
 * its own factory, and Sparkplug clients only to STATE and commands (docs/security.md), so most of
 * what gateways publish (their telemetry, to factories nobody watches) can reach no one. Grants are
 * remembered until the process ends: Aedes keeps sessions in memory, so none outlives a restart, and
 * a factory whose subscribers all left only costs the pub/sub's work again, never a lost message.
 */
export class Forwarding {
  /** Factory prefixes (`iiot/v1/{zone}/{factory}/`) some client was granted a subscription in. */
  private readonly watched = new Set<string>()

  /** A subscription was granted inside the factory with this prefix. */
  granted(factoryPrefix: string): void {
    this.watched.add(factoryPrefix)
  }

  /** False only where no subscription granted so far can match `topic`. */
  mayReach(topic: string): boolean {
    if (isUnderRoot(topic)) {
      if (this.watched.size === 0) return false
      // `iiot/v1/{zone}/{factory}/`: the prefix ends at the second slash after the root's.
      let end = TOPIC_ROOT.length
      for (let level = 0; level < 2 && end >= 0; level++) end = topic.indexOf('/', end + 1)
      return end < 0 || this.watched.has(topic.slice(0, end + 1))
    }
    if (isSparkplugTopic(topic)) {
      const type = topic.split('/', 3)[2]
      return type === undefined || !SPARKPLUG_DATA.has(type)
    }
    return true
  }
}

type Publish = (packet: { topic: string }, client?: Client | null | ((err?: Error | null) => void), done?: (err?: Error | null) => void) => void

/**
 * After its PUBACK, Aedes hands every client's publish to its pub/sub: a copy of the packet, the
 * topic matched against every subscription twice (the emitter's and the persistence's trie, for
 * offline sessions) and three promises, about a tenth of the main thread's work at one sample a
 * message (docs/figures.md). A publish no subscriber may receive skips that and completes at once.
 * It is already in the journal (authorize-hooks.ts): skipping the pub/sub loses nothing. The
 * broker's own publishes (no client: Sparkplug's STATE and commands, $SYS) go through as before.
 */
export function skipUnreachable(aedes: Aedes, forwarding: Forwarding): void {
  const target = aedes as unknown as { publish: Publish }
  const publish = target.publish.bind(aedes)
  target.publish = (packet, client, done) => {
    if (client && typeof client !== 'function' && !forwarding.mayReach(packet.topic)) return done?.()
    publish(packet, client, done)
  }
}
