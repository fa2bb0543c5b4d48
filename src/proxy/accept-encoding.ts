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

export function narrowAcceptEncodingHeader (headers: IncomingHttpHeaders): void {
  headers['accept-encoding'] = narrowAcceptEncoding(headers['accept-encoding'])
}
