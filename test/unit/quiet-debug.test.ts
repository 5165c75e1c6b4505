import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { quietDisabledDebug } from '../../src/broker/quiet-debug.js'

// The `debug` that mqtt-packet loads, as mqtt-packet would resolve it.
const fromMqttPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'))

describe('quiet debug for mqtt-packet', () => {
  it('hands out a no-op for namespaces DEBUG does not enable, and the real logger for those it does', () => {
    quietDisabledDebug()
    const createDebug = fromMqttPacket('debug') as ((ns: string) => { (...args: unknown[]): void; namespace?: string }) & { quieted?: boolean; enable(ns: string): void; disable(): string }
    expect(createDebug.quieted).toBe(true)
    const off = createDebug('mqtt-packet:parser')
    expect(off.name).toBe('silent')
    expect(off.namespace).toBeUndefined()
    const previous = createDebug.disable()
    try {
      createDebug.enable('iiot-quiet-test:*')
      const on = createDebug('iiot-quiet-test:a')
      expect(on.name).not.toBe('silent')
      expect(on.namespace).toBe('iiot-quiet-test:a')
    } finally {
      createDebug.enable(previous)
    }
    // A second call changes nothing.
    expect(quietDisabledDebug()).toBe(false)
  })
})
