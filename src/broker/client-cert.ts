import type { TLSSocket } from 'node:tls'

/** What a verified client certificate says about who is connecting. */
export interface CertificateIdentity {
  /** The subject CN, then the DNS names of the subjectAltName, in certificate order. */
  readonly names: readonly string[]
  readonly fingerprint256: string
}

/**
 * The identity in a client certificate, only when the TLS layer verified it
 * against MQTT_TLS_CA_FILE (`socket.authorized`). With client auth "optional"
 * a certificate from another CA is presented but not verified: it names no one.
 */
export function certificateIdentity(socket: TLSSocket): CertificateIdentity | undefined {
  if (!socket.authorized) return undefined
  const cert = socket.getPeerCertificate()
  if (!cert || Object.keys(cert).length === 0) return undefined
  const names: string[] = []
  const cn = cert.subject?.CN as string | string[] | undefined
  for (const name of Array.isArray(cn) ? cn : cn === undefined ? [] : [cn]) names.push(name)
  for (const entry of splitAltNames(cert.subjectaltname ?? '')) {
    if (entry.startsWith('DNS:')) names.push(entry.slice(4))
  }
  return { names, fingerprint256: cert.fingerprint256 }
}

// Node joins subjectAltName entries with ", " and quotes entries that contain one (JSON-style).
function splitAltNames(text: string): string[] {
  const out: string[] = []
  const re = /(?:^|, )((?:[A-Za-z ]+):(?:"(?:[^"\\]|\\.)*"|[^,]*))/g
  for (const m of text.matchAll(re)) {
    const entry = m[1]!
    const colon = entry.indexOf(':')
    const value = entry.slice(colon + 1)
    out.push(entry.slice(0, colon + 1) + (value.startsWith('"') ? safeJson(value) : value))
  }
  return out
}

function safeJson(quoted: string): string {
  try {
    return String(JSON.parse(quoted))
  } catch {
    return ''
  }
}

export type CertificateCheck = { ok: true; gatewayId: string } | { ok: false; reason: 'cert_mismatch' | 'cert_unknown_gateway' }

/**
 * Which gateway a certificate authenticates. With a username, the certificate
 * must name that gateway (CN or a DNS SAN); without one, the first name that is
 * a registered gateway is taken.
 */
export function gatewayOfCertificate(identity: CertificateIdentity, username: string | undefined, isGateway: (id: string) => boolean): CertificateCheck {
  if (username) return identity.names.includes(username) ? { ok: true, gatewayId: username } : { ok: false, reason: 'cert_mismatch' }
  const id = identity.names.find(isGateway)
  return id ? { ok: true, gatewayId: id } : { ok: false, reason: 'cert_unknown_gateway' }
}
