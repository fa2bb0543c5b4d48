/**
 * The independent judge: oauth4webapi, a certified relying-party library, reads discovery and the
 * JWKS through the gateway and validates every JARM response; the code is then redeemed at the
 * legacy server's token endpoint, through the gateway.
 */
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
