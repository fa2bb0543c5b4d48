/**
 * The independent judge: oauth4webapi, a certified relying-party library, reads discovery and the
 * JWKS through the gateway and validates every JARM response; the code is then redeemed at the
 * legacy server's token endpoint, through the gateway.
 */
import { createHash } from 'node:crypto'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'

export const APP1 = { client_id: 'app1', authorization_signed_response_alg: 'ES256' } as const
export const APP1_SECRET = 'app1-secret-that-is-long-enough-for-hs256-0123456789'

export async function discover (issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer)
  const response = await oauth.discoveryRequest(url, { [oauth.allowInsecureRequests]: true })
  return oauth.processDiscoveryResponse(url, response)
}

export async function judge (as: oauth.AuthorizationServer, client: oauth.Client, parameters: URLSearchParams, state: string | typeof oauth.expectNoState): Promise<URLSearchParams> {
  return oauth.validateJwtAuthResponse(as, client, parameters, state, { [oauth.allowInsecureRequests]: true })
}

export async function redeem (as: oauth.AuthorizationServer, client: oauth.Client, secret: string, callback: URLSearchParams, redirectUri: string, verifier: string, nonce?: string): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret), callback, redirectUri, verifier, { [oauth.allowInsecureRequests]: true })
  return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce })
}

export interface AuthorizationRequest { url: URL, verifier: string, state: string | undefined, nonce: string }

/** An authorization request as a client library would build it (PKCE, state, nonce). */
export async function authorizationRequest (as: oauth.AuthorizationServer, parameters: Record<string, string | undefined>): Promise<AuthorizationRequest> {
  const verifier = oauth.generateRandomCodeVerifier()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint!)
  const all: Record<string, string | undefined> = {
    client_id: 'app1',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: 'https://client.example.org/cb',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state: oauth.generateRandomState(),
    ...parameters,
  }
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value)
  return { url, verifier, state: all['state'], nonce }
}

export { oauth }

/**
 * A hybrid or implicit response in JARM: oauth4webapi validates JARM only for the code flow, so the
 * response JWT is checked with jose against the issuer's JWKS (through the gateway), and its ID token
 * by oauth4webapi's validateCodeIdTokenResponse (signature, iss, aud, nonce, c_hash, state) when
 * there is a code, else with jose (signature, iss, aud, nonce) and at_hash by hand.
 */
export async function judgeHybrid (as: oauth.AuthorizationServer, client: oauth.Client, parameters: URLSearchParams, request: AuthorizationRequest, decrypt?: (jwe: string) => Promise<string>): Promise<URLSearchParams> {
  const jwks = createRemoteJWKSet(new URL(as.jwks_uri!))
  let jwt = parameters.get('response')!
  if (decrypt !== undefined) jwt = await decrypt(jwt)
  const { payload } = await jwtVerify(jwt, jwks, { issuer: as.issuer, audience: client.client_id, requiredClaims: ['exp'] })
  const flat = new URLSearchParams()
  for (const [name, value] of Object.entries(payload)) if (!['iss', 'aud', 'exp', 'iat'].includes(name)) flat.set(name, String(value))
  if (flat.get('state') !== (request.state ?? null)) throw new Error('state mismatch')
  const idToken = flat.get('id_token')
  // With a code, the answer is what the token endpoint helpers accept (oauth4webapi brands it).
  if (idToken !== null && flat.has('code')) {
    return oauth.validateCodeIdTokenResponse(as, client, flat, request.nonce, request.state ?? oauth.expectNoState, undefined, { [oauth.allowInsecureRequests]: true })
  }
  if (flat.has('code')) return oauth.validateAuthResponse({ ...as, authorization_response_iss_parameter_supported: false }, client, flat, request.state ?? oauth.expectNoState)
  if (idToken !== null) {
    const { payload: claims, protectedHeader } = await jwtVerify(idToken, jwks, { issuer: as.issuer, audience: client.client_id })
    if (claims['nonce'] !== request.nonce) throw new Error('nonce mismatch')
    const accessToken = flat.get('access_token')
    if (accessToken !== null) {
      const digest = createHash(`sha${protectedHeader.alg.slice(2)}`).update(accessToken).digest()
      if (claims['at_hash'] !== digest.subarray(0, digest.length / 2).toString('base64url')) throw new Error('at_hash mismatch')
    }
  }
  return flat
}
