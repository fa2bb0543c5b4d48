/**
 * What the gateway's own PAR endpoint answers (RFC 9126 §2.2, §2.3): 201 with the request_uri and
 * its lifetime, or an OAuth error as JSON (src/respond/error-json.ts), never a page: the caller is
 * the client's back end, not a browser. A 401 after the client tried the Authorization header
 * carries `WWW-Authenticate: Basic` (RFC 6749 §5.2); a method other than POST is a 405 with
 * `Allow: POST` (RFC 9110 §15.5.6).
 */
import { GatewayError, isGatewayError } from '../errors.js'
import { errorJson } from '../respond/error-json.js'
import type { Delivery } from '../respond/response-delivery.js'
import { ClientAuthenticationFailed } from './client-authentication.js'
import type { SealedPushedRequest } from './pushed-request-uri.js'

/** RFC 9126 §2.2: 201 Created, `{request_uri, expires_in}`, not to be cached. */
export function pushedRequestCreated (sealed: SealedPushedRequest): Delivery {
  return {
    status: 201,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ request_uri: sealed.requestUri, expires_in: sealed.expiresIn }),
  }
}

/** RFC 7235 §2.2 quoted-string: `"` and `\` escaped. */
function quoted (value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/**
 * The JSON error for anything the PAR endpoint throws. A GatewayError keeps its status and OAuth
 * error; anything else is a bug, answered as `internal_error` without its message (which may hold
 * anything). `basicRealm` names the realm of the Basic challenge.
 */
export function pushedRequestError (error: unknown, basicRealm: string): Delivery {
  const known = isGatewayError(error) ? error : new GatewayError('internal_error', 'the pushed request could not be processed', { cause: error })
  const delivery = errorJson(known)
  if (!(known instanceof ClientAuthenticationFailed) || !known.basicAttempted) return delivery
  return { ...delivery, headers: { ...delivery.headers, 'www-authenticate': `Basic realm=${quoted(basicRealm)}` } }
}

/** RFC 9126 §2.1: the endpoint takes POST only. */
export function pushedRequestMethodNotAllowed (): Delivery {
  const delivery = errorJson(new GatewayError('method_not_allowed', 'the pushed authorization request endpoint takes POST only'))
  return { ...delivery, headers: { ...delivery.headers, allow: 'POST' } }
}
