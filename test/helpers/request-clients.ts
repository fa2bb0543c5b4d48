/**
 * A real oidc-provider (JARM off) with PAR and request objects on, and clients for each way a client
 * authenticates: app1 (client_secret_basic, from the default clients), app3 (client_secret_post),
 * app4 (private_key_jwt, also signing its request objects). app4's redirect_uri is vouched for in the
 * gateway config, so refusals may reach it as JARM errors; app1's and app3's are not.
 */
import { exportJWK, generateKeyPair } from 'jose'
import type { ClientMetadata } from 'oidc-provider'
import { DEFAULT_CLIENTS } from '../../demo/legacy-server.js'
import { oauth } from './judge.js'
import { startStack, type Stack } from './stack.js'

export const REDIRECT_URI = 'https://client.example.org/cb'
export const APP3 = { client_id: 'app3', authorization_signed_response_alg: 'ES256' } as const
export const APP3_SECRET = 'app3-secret-that-is-long-enough-for-hs256-0123456789'
export const APP4 = { client_id: 'app4', authorization_signed_response_alg: 'ES256' } as const

const app4Keys = await generateKeyPair('ES256')
export const APP4_KEY: oauth.PrivateKey = { key: app4Keys.privateKey, kid: 'app4-key' }

const EXTRA_CLIENTS: ClientMetadata[] = [
  { client_id: 'app3', client_secret: APP3_SECRET, redirect_uris: [REDIRECT_URI], response_types: ['code'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_post' },
  {
    client_id: 'app4',
    redirect_uris: [REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    request_object_signing_alg: 'ES256',
    jwks: { keys: [{ ...await exportJWK(app4Keys.publicKey), kid: 'app4-key', alg: 'ES256', use: 'sig' }] },
  },
]

export function startRequestStack (): Promise<Stack> {
  return startStack({
    legacy: {
      clients: [...DEFAULT_CLIENTS, ...EXTRA_CLIENTS],
      httpPost: true,
      configuration: {
        features: {
          devInteractions: { enabled: true },
          jwtResponseModes: { enabled: false },
          pushedAuthorizationRequests: { enabled: true },
          requestObjects: { enabled: true },
        },
      },
    },
    config: {
      clients: {
        app1: { authorization_signed_response_alg: 'ES256' },
        app3: { authorization_signed_response_alg: 'ES256' },
        app4: { authorization_signed_response_alg: 'ES256', redirect_uris: [REDIRECT_URI] },
      },
    },
  })
}

/** A PKCE code flow's parameters for a client. */
export async function codeFlowParameters (clientId: string, extra: Record<string, string> = {}): Promise<{ parameters: Record<string, string>, verifier: string, state: string, nonce: string }> {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  return {
    parameters: {
      client_id: clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT_URI,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    },
    verifier,
    state,
    nonce,
  }
}

/** The code redeemed at the token endpoint through the gateway, with the client's own authentication. */
export async function redeemWith (as: oauth.AuthorizationServer, client: oauth.Client, auth: oauth.ClientAuth, callback: URLSearchParams, verifier: string, nonce: string): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.authorizationCodeGrantRequest(as, client, auth, callback, REDIRECT_URI, verifier, { [oauth.allowInsecureRequests]: true })
  return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce })
}

/** An unsigned JWT (alg none): enough for what the gateway reads, never accepted by the legacy server. */
export function unsignedJwt (claims: Record<string, unknown>): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'none' })}.${part(claims)}.`
}
