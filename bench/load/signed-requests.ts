/**
 * Section 2's request-object case (h): a client whose authorization requests are signed request
 * objects (RFC 9101, ES256), each one fresh (its own jti and times), so that the gateway verifies a
 * signature per request as it would for a FAPI client, and none is refused as a replay. The objects
 * are signed here, in the load generator, with node:crypto: the generator's CPU is not the gateway's.
 */
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { CLIENT_STATE, FAKE_REDIRECT_URI } from '../lib/fixtures.js'

export const SIGNED_REQUEST_CLIENT_ID = 'ro'

export interface SignedRequestClient {
  /** The client's entry in the gateway configuration: its public key, ES256 objects required. */
  readonly config: Record<string, unknown>
  /** A fresh authorization request path (`/authorize?client_id=...&request=...`) for `issuer`. */
  readonly path: (issuer: string) => string
}

export async function signedRequestClient (): Promise<SignedRequestClient> {
  const jwk = await generatePrivateJwk('ES256') as Record<string, unknown>
  const key: KeyObject = createPrivateKey({ key: jwk as never, format: 'jwk' })
  const { d: _private, ...publicJwk } = jwk
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: jwk['kid'], typ: 'oauth-authz-req+jwt' })).toString('base64url')
  return {
    config: {
      authorization_signed_response_alg: 'ES256',
      jwks: { keys: [{ ...publicJwk, use: 'sig' }] },
      request_object_signing_alg: 'ES256',
      require_signed_request_object: true,
      redirect_uris: [FAKE_REDIRECT_URI],
    },
    path: (issuer) => {
      const now = Math.floor(Date.now() / 1000)
      const claims = {
        iss: SIGNED_REQUEST_CLIENT_ID, aud: issuer, client_id: SIGNED_REQUEST_CLIENT_ID, jti: randomUUID(), iat: now, nbf: now, exp: now + 60,
        response_type: 'code', response_mode: 'query.jwt', scope: 'openid', redirect_uri: FAKE_REDIRECT_URI, state: CLIENT_STATE,
      }
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
      const jwt = `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
      return `/authorize?client_id=${SIGNED_REQUEST_CLIENT_ID}&request=${jwt}`
    },
  }
}
