/**
 * What the gateway reads of a request object (RFC 9101) without verifying it: the payload of a
 * `request` by value, to see whether it may ask for a JWT mode where nothing verifies it (a path
 * no issuer owns) and where a refusal may go; and the prefix of a pushed request's handle (RFC
 * 9126). Request objects are verified in src/request-objects/. A `request_uri` that points
 * elsewhere is never fetched: fetching would make the gateway an HTTP client for any URL a browser
 * hands it (SSRF), and may consume a one-time URI before the legacy server reads it. Pure.
 */
import { isJarmResponseMode } from './response-mode.js'
import type { ParameterList } from './parameters.js'

/** RFC 9126 §2.2: the request_uri the PAR endpoint hands out. */
export const PUSHED_REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:'

/** The payload of a compact JWS, decoded but NOT verified; undefined when it is not one. */
export function unverifiedPayload (jwt: string): Record<string, unknown> | undefined {
  const parts = jwt.split('.')
  if (parts.length !== 3) return undefined
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'))
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the parameters may ask for a JWT response mode: in `response_mode`, or inside a request
 * object passed by value (read unverified; one that cannot be read may, so it counts). Used where
 * no issuer owns the path: such a request is refused rather than passed to the legacy server, which
 * would answer it in plain text.
 */
export function mayAskForJwtMode (parameters: ParameterList): boolean {
  return parameters.some(([name, value]) => {
    if (name === 'response_mode') return isJarmResponseMode(value)
    if (name !== 'request') return false
    const claims = unverifiedPayload(value)
    if (claims === undefined) return true
    const mode = claims['response_mode']
    return typeof mode === 'string' && isJarmResponseMode(mode)
  })
}
