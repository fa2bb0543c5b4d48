/**
 * The OAuth error a back-channel client gets (RFC 6749 §5.2, as RFC 9126 §2.3 asks of the PAR
 * endpoint): JSON, not a page, since no browser reads it. Never a code, token or secret.
 */
import type { GatewayError } from '../errors.js'
import type { Delivery } from './response-delivery.js'

export function errorJson (error: GatewayError): Delivery {
  return {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ error: error.oauthError, error_description: error.message }),
  }
}
