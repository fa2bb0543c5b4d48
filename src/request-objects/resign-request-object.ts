/**
 * A fresh request object for a legacy server that itself requires JAR (`request_objects.forward:
 * "resigned"`): the client's object was verified by the gateway against the gateway's issuer, so it
 * cannot be passed on (its `aud` is not the legacy server); the verified parameters are signed again
 * by a gateway key, for the legacy issuer, with fresh `iat`, `nbf`, `exp` and `jti` (FAPI-NOTES,
 * "Re-signing"). That key speaks for every client at the legacy server: guard it like the JARM keys.
 *
 * The claims are the reverse of the mapping in verify-request-object.ts: JSON-text parameters
 * (`claims`, `authorization_details`) become JSON again, `max_age` a number, repeated `resource`
 * values an array. Any other parameter stays the string it was forwarded as. Pure but for the
 * clock and the random jti.
 */
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { ParameterList } from '../authorization-request/parameters.js'
import { signJwt, type JwsHeader } from '../jarm/sign-jwt.js'
import type { SigningKey } from '../keys/signing-keys.js'
import { JSON_PARAMETERS, NUMERIC_PARAMETERS, REPEATABLE_PARAMETERS } from './verify-request-object.js'

/** Long enough to cross to the legacy server and back, short enough to be useless if it leaks. */
export const DEFAULT_RESIGNED_LIFETIME_S = 60
/** 128 bits from a strong random source: a jti no one can guess or collide with. */
const JTI_BYTES = 16

export interface ResignOptions {
  /** The legacy server's issuer: the `aud` it checks. */
  readonly audience: string
  readonly lifetimeSeconds?: number | undefined
  /** Milliseconds since the epoch; for tests. */
  readonly now?: (() => number) | undefined
}

/** The claim value a forwarded parameter stands for: JSON again where it was JSON text. */
function claimValue (name: string, value: string): unknown {
  if (NUMERIC_PARAMETERS.has(name) && /^\d+$/.test(value)) return Number(value)
  if (JSON_PARAMETERS.has(name)) {
    try {
      return JSON.parse(value)
    } catch {
      // Not JSON: passed on as the text it is, for the legacy server to refuse.
      return value
    }
  }
  return value
}

function claimsOf (parameters: ParameterList): Record<string, unknown> {
  // A Map, not an object: a parameter named __proto__ or toString is just a name.
  const claims = new Map<string, unknown>()
  for (const [name, value] of parameters) {
    const earlier = claims.get(name)
    if (!REPEATABLE_PARAMETERS.has(name)) {
      if (claims.has(name)) throw new GatewayError('duplicate_parameter', `parameter ${name} must not be sent more than once`)
      claims.set(name, claimValue(name, value))
    } else {
      claims.set(name, earlier === undefined ? value : [earlier, value].flat())
    }
  }
  return Object.fromEntries(claims)
}

/**
 * A request object holding `parameters` (which must include client_id), signed by `key` for
 * `options.audience`. Registered claims (iss, aud, iat, nbf, exp, jti) are the gateway's own.
 */
export function resignRequestObject (parameters: ParameterList, key: SigningKey, options: ResignOptions): string {
  const claims = claimsOf(parameters)
  const clientId = claims['client_id']
  if (typeof clientId !== 'string') throw new GatewayError('missing_parameter', 'parameter client_id is required to re-sign a request object')
  const now = Math.floor((options.now ?? Date.now)() / 1000)
  const header: JwsHeader = { alg: key.alg, kid: key.kid, typ: 'oauth-authz-req+jwt' }
  return signJwt(header, {
    ...claims,
    iss: clientId,
    aud: options.audience,
    iat: now,
    nbf: now,
    exp: now + (options.lifetimeSeconds ?? DEFAULT_RESIGNED_LIFETIME_S),
    jti: randomBytes(JTI_BYTES).toString('base64url'),
  }, key.signer)
}
