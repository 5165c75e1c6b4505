import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { messageTypes } from '../../src/pipeline/proto-schema.js'
import type { Kind } from '../../src/domain/topic.js'

export const types = messageTypes()

/** Encodes a message of a kind from a plain object (camelCase fields, as protobufjs expects). */
export function encode(kind: Kind, body: Record<string, unknown>): Buffer {
  const type = types[kind]
  const err = type.verify(body)
  if (err) throw new Error(`bad test message for ${kind}: ${err}`)
  return Buffer.from(type.encode(type.fromObject(body)).finish())
}

/** A real mqtt.js gateway connection. Rejects on CONNACK refusal. */
export async function connectGateway(url: string, username: string, password: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(url, { clientId: `${username}-${Math.random().toString(16).slice(2, 8)}`, username, password, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts })
}

export async function publish(client: MqttClient, topic: string, payload: Buffer, qos: 0 | 1 = 1): Promise<void> {
  await client.publishAsync(topic, payload, { qos })
}
