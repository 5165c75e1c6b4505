import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import type { Kind } from '../domain/topic.js'

// 64-bit integers decode as JS numbers instead of Long objects: timestamps in ms
// and counts stay exact up to 2^53, and no Long is allocated per sample.
protobuf.util.Long = null as unknown as typeof protobuf.util.Long
protobuf.configure()

export const PROTO_FILES = ['iiot/v1/common.proto', 'iiot/v1/telemetry.proto', 'iiot/v1/state.proto', 'iiot/v1/production.proto', 'iiot/v1/quality.proto', 'iiot/v1/connectivity.proto', 'iiot/v1/material.proto']

/** The protobuf message type for each topic kind. */
export const MESSAGE_TYPE_BY_KIND: Readonly<Record<Kind, string>> = {
  telemetry: 'iiot.v1.Telemetry',
  state: 'iiot.v1.State',
  production: 'iiot.v1.Production',
  quality: 'iiot.v1.QualityReport',
  connectivity: 'iiot.v1.Connectivity',
  material: 'iiot.v1.Material',
}

/** Finds `proto/` by walking up from this file, so it works from `src/` (tsx) and `dist/src/`. */
export function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto')
    if (existsSync(join(candidate, 'iiot', 'v1', 'telemetry.proto'))) return candidate
    dir = dirname(dir)
  }
  throw new Error('cannot find the proto/ directory')
}

/** Loads the schema by reflection (protobufjs generates the decoders at run time). */
export function loadProtoRoot(dir: string = protoDir()): protobuf.Root {
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => join(dir, target)
  root.loadSync(PROTO_FILES, { keepCase: false })
  root.resolveAll()
  return root
}

export type MessageTypes = Readonly<Record<Kind, protobuf.Type>>

export function messageTypes(root: protobuf.Root = loadProtoRoot()): MessageTypes {
  const lookup = (name: string) => root.lookupType(name)
  return {
    telemetry: lookup(MESSAGE_TYPE_BY_KIND.telemetry),
    state: lookup(MESSAGE_TYPE_BY_KIND.state),
    production: lookup(MESSAGE_TYPE_BY_KIND.production),
    quality: lookup(MESSAGE_TYPE_BY_KIND.quality),
    connectivity: lookup(MESSAGE_TYPE_BY_KIND.connectivity),
    material: lookup(MESSAGE_TYPE_BY_KIND.material),
  }
}
