/**
 * The Accept-Encoding forwarded to the legacy server. Any answer may be a form_post page that carries
 * a sealed flow, and the gateway must be able to read it to fail closed; so it asks only for the
 * codings it can decode (gzip, deflate, br), keeping the client's preferences among them
 * (RFC 9110 §12.5.3). Other codings (zstd, compress, ...) are dropped; identity is always acceptable.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { DECODABLE_ENCODINGS } from '../http/decode-for-inspection.js'

const ACCEPTED: ReadonlySet<string> = new Set([...DECODABLE_ENCODINGS, 'x-gzip', 'identity'])

/** The client's Accept-Encoding less the codings the gateway cannot decode, or `identity`. Pure. */
export function narrowAcceptEncoding (value: string | undefined): string {
  const kept = (value ?? '').split(',')
    .map((item) => item.trim())
    .filter((item) => ACCEPTED.has(item.split(';')[0]!.trim().toLowerCase()))
  return kept.length > 0 ? kept.join(', ') : 'identity'
}

/**
 * Browsers send one of a handful of values, each on every request: the narrowed value is kept for
 * the most recent ones instead of being worked out again (bounded, whatever clients send).
 */
const MAX_REMEMBERED = 64
const remembered = new Map<string, string>()

export function narrowAcceptEncodingHeader (headers: IncomingHttpHeaders): void {
  const value = headers['accept-encoding']
  if (value === undefined) {
    headers['accept-encoding'] = 'identity'
    return
  }
  let narrowed = remembered.get(value)
  if (narrowed === undefined) {
    narrowed = narrowAcceptEncoding(value)
    if (remembered.size >= MAX_REMEMBERED) remembered.clear()
    remembered.set(value, narrowed)
  }
  headers['accept-encoding'] = narrowed
}
