/**
 * The claims of a JARM response (JARM §2.1, §2.2): iss, aud, exp, iat, then every authorization
 * response parameter of the legacy server, errors included. Pure.
 */
import type { ParameterList } from '../authorization-request/parameters.js'
import { GatewayError } from '../errors.js'

/** Claims the gateway sets itself; a legacy parameter of the same name is never copied over them. */
const GATEWAY_CLAIMS = new Set(['iss', 'aud', 'exp', 'iat', 'state'])
/** Parameters whose JSON type is a number (RFC 6749 §5.1); all others stay strings. */
const NUMERIC_PARAMETERS = new Set(['expires_in'])

export interface ResponseClaimsInput {
  readonly issuer: string
  readonly clientId: string
  /** The client's own state, restored byte for byte; omitted when the client sent none. */
  readonly state: string | undefined
  readonly parameters: ParameterList
  readonly nowSeconds: number
  readonly ttlSeconds: number
}

export function buildResponseClaims (input: ResponseClaimsInput): Record<string, string | number> {
  // A plain object (JSON.stringify's fast path; a null-prototype one is a dictionary, several µs
  // dearer per response), with `__proto__` defined as an own claim: assigned, it would hit
  // Object.prototype's setter and be silently swallowed.
  const claims: Record<string, string | number> = {
    iss: input.issuer,
    aud: input.clientId,
    exp: input.nowSeconds + input.ttlSeconds,
    iat: input.nowSeconds,
  }
  if (input.state !== undefined) claims['state'] = input.state
  const seen = new Set<string>()
  for (const [name, value] of input.parameters) {
    if (seen.has(name)) {
      throw new GatewayError('capture_failed', `the identity server sent parameter ${name} more than once`)
    }
    seen.add(name)
    // `iss` here is the RFC 9207 parameter: the JWT's own iss replaces it, and there is never a second.
    if (GATEWAY_CLAIMS.has(name)) continue
    const claim = NUMERIC_PARAMETERS.has(name) && /^\d{1,15}$/.test(value) ? Number(value) : value
    if (name === '__proto__') Object.defineProperty(claims, name, { value: claim, enumerable: true, writable: true, configurable: true })
    else claims[name] = claim
  }
  return claims
}
