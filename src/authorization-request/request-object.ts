/**
 * Request objects (RFC 9101): `request` (a JWT by value) and `request_uri` (a reference, or the handle
 * of a pushed request, RFC 9126). The gateway cannot rewrite a signed request object: changing its
 * response_mode or state breaks the signature the legacy server checks. So it only looks inside one
 * passed by value, decoding the payload without verifying it (the legacy server verifies), to find
 * out whether the client asked for a JWT response mode there; such a request is refused, since the
 * legacy server would answer it in plain text with the client's own state, out of the gateway's reach.
 *
 * A `request_uri` that points elsewhere is not fetched: fetching would make the gateway an HTTP client
 * for any URL a browser hands it (SSRF), and may consume a one-time URI before the legacy server
 * reads it. Pure.
 */
import { GatewayError } from '../errors.js'
import { isJarmResponseMode, type JarmResponseMode } from './response-mode.js'
import type { ParameterList } from './parameters.js'

/** RFC 9126 §2.2: the request_uri the PAR endpoint hands out. */
export const PUSHED_REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:'

export type RequestObjectView =
  | { readonly kind: 'none' }
  /** A PAR handle: its request was checked (and rewritten) when it was pushed through the gateway. */
  | { readonly kind: 'pushed' }
  /** By reference elsewhere: not fetched, so not seen. */
  | { readonly kind: 'by_reference' }
  /** By value but unreadable: encrypted (JWE, five parts) or malformed. The legacy server judges it. */
  | { readonly kind: 'opaque' }
  | { readonly kind: 'readable', readonly claims: Readonly<Record<string, unknown>> }

/** Where a refusal may be sent as a JARM error, once the gateway's config vouches for the redirect_uri. */
export interface RefusalTarget {
  readonly clientId: string
  readonly redirectUri: string
  readonly responseType: string | undefined
  readonly mode: JarmResponseMode
  readonly state: string | undefined
}

/** `invalid_request_object` with what the client asked for, read from the (unverified) request object. */
export class JwtModeInRequestObject extends GatewayError {
  readonly target: RefusalTarget | undefined
  constructor (mode: string, target: RefusalTarget | undefined) {
    super('invalid_request_object', `response_mode ${mode} inside a request object cannot be honoured: the gateway cannot rewrite a signed request object; push the request without a request object (PAR) or send response_mode outside it`)
    this.target = target
  }
}

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

export function viewRequestObject (parameters: ReadonlyMap<string, string>): RequestObjectView {
  const request = parameters.get('request')
  if (request !== undefined) {
    const claims = unverifiedPayload(request)
    return claims === undefined ? { kind: 'opaque' } : { kind: 'readable', claims }
  }
  const requestUri = parameters.get('request_uri')
  if (requestUri === undefined) return { kind: 'none' }
  return requestUri.startsWith(PUSHED_REQUEST_URI_PREFIX) ? { kind: 'pushed' } : { kind: 'by_reference' }
}

function stringClaim (claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = claims[name]
  return typeof value === 'string' ? value : undefined
}

/**
 * Throws JwtModeInRequestObject when a request object passed by value asks for a JWT response mode
 * this gateway offers. The refusal names where it may be delivered: the client_id of the request
 * (which must agree with the object's), the object's redirect_uri, state and response type.
 */
export function refuseJwtModeInRequestObject (outer: ReadonlyMap<string, string>, offered: ReadonlySet<JarmResponseMode>): void {
  const view = viewRequestObject(outer)
  if (view.kind !== 'readable') return
  const mode = view.claims['response_mode']
  if (typeof mode !== 'string' || !isJarmResponseMode(mode) || !offered.has(mode)) return
  const clientId = outer.get('client_id') ?? stringClaim(view.claims, 'client_id')
  const objectClientId = stringClaim(view.claims, 'client_id')
  const redirectUri = stringClaim(view.claims, 'redirect_uri') ?? outer.get('redirect_uri')
  const agrees = clientId !== undefined && (objectClientId === undefined || objectClientId === clientId) && redirectUri !== undefined && URL.canParse(redirectUri)
  throw new JwtModeInRequestObject(mode, agrees
    ? { clientId, redirectUri, mode, responseType: stringClaim(view.claims, 'response_type') ?? outer.get('response_type'), state: stringClaim(view.claims, 'state') }
    : undefined)
}

/** True when the parameters carry a request object by value (`request`), even a repeated one. */
export function carriesRequestObject (parameters: ParameterList): boolean {
  return parameters.some(([name]) => name === 'request')
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
    const mode = unverifiedPayload(value)?.['response_mode']
    return mode === undefined ? unverifiedPayload(value) === undefined : typeof mode === 'string' && isJarmResponseMode(mode)
  })
}
