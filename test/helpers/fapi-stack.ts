/**
 * FAPI clients in front of a legacy server that has no JAR, no JARM (and PAR only when asked): the
 * end-to-end tests of issue 14. Each client exists twice, as FAPI deployments register it: at the
 * legacy oidc-provider (so the token endpoint authenticates it and knows its redirect_uri) and in
 * the gateway's config (its keys verify its request objects and its PAR authentication, its
 * redirect_uris vouch for where refusals may go). oauth4webapi plays the FAPI client, and judges.
 */
import { codeFlowParameters } from './request-clients.js'
import { generateKeyPairSync } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import type { ClientMetadata } from 'oidc-provider'
import { DEFAULT_CLIENTS } from '../../demo/legacy-server.js'
import type { Arrival } from './browser-agent.js'
import { callbackParameters } from './browser-agent.js'
import { oauth } from './judge.js'
import { startStack, type Stack, type StackOptions } from './stack.js'

export const FAPI_REDIRECT_URI = 'https://fapi.example.org/cb'
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:'
export const PAR_PATH = '/jarm-gateway/par'
export const FAPI_SECRET = 'fapi-secret-client-secret-long-enough-for-hs256-0123456789'
export const insecure = { [oauth.allowInsecureRequests]: true } as const

/** A client's signing key: for oauth4webapi (CryptoKey, kid), for jose, and its public JWK. */
export interface FapiKey {
  readonly kid: string
  readonly alg: 'PS256' | 'ES256'
  readonly key: oauth.PrivateKey
  readonly publicJwk: JWK
}

/** An RSA key as PS256 (what FAPI wants) and, the same key, as RS256 (what FAPI refuses). */
export async function rsaKey (kid: string): Promise<FapiKey & { readonly rs256: CryptoKey }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privateJwk = await exportJWK(privateKey)
  return {
    kid,
    alg: 'PS256',
    key: { key: await importJWK(privateJwk, 'PS256') as CryptoKey, kid },
    rs256: await importJWK(privateJwk, 'RS256') as CryptoKey,
    publicJwk: { ...await exportJWK(publicKey), kid, use: 'sig' },
  }
}

export async function ecKey (kid: string): Promise<FapiKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  return { kid, alg: 'ES256', key: { key: privateKey, kid }, publicJwk: { ...await exportJWK(publicKey), kid, use: 'sig' } }
}

/** fapi-ps registers PS256 for its request objects, fapi-es ES256; fapi-par must push; fapi-open has no redirect_uris on the gateway. */
export const PS_KEY = await rsaKey('fapi-ps-key')
export const ES_KEY = await ecKey('fapi-es-key')
export const PAR_KEY = await ecKey('fapi-par-key')
export const OPEN_KEY = await ecKey('fapi-open-key')
/** Not registered anywhere, with the kid of fapi-es's key: "another key's signature". */
export const IMPOSTOR_KEY = await ecKey('fapi-es-key')

export const FAPI_PS: oauth.Client = { client_id: 'fapi-ps', authorization_signed_response_alg: 'ES256', token_endpoint_auth_method: 'private_key_jwt' }
export const FAPI_ES: oauth.Client = { client_id: 'fapi-es', authorization_signed_response_alg: 'ES256', token_endpoint_auth_method: 'private_key_jwt' }
export const FAPI_PAR: oauth.Client = { client_id: 'fapi-par', authorization_signed_response_alg: 'ES256', token_endpoint_auth_method: 'private_key_jwt' }
export const FAPI_OPEN: oauth.Client = { client_id: 'fapi-open', authorization_signed_response_alg: 'ES256', token_endpoint_auth_method: 'private_key_jwt' }
export const FAPI_SECRET_CLIENT: oauth.Client = { client_id: 'fapi-secret', authorization_signed_response_alg: 'ES256' }

/** How each client authenticates at a token (or PAR) endpoint. */
export const AUTH: Record<string, () => oauth.ClientAuth> = {
  'fapi-ps': () => oauth.PrivateKeyJwt(PS_KEY.key),
  'fapi-es': () => oauth.PrivateKeyJwt(ES_KEY.key),
  'fapi-par': () => oauth.PrivateKeyJwt(PAR_KEY.key),
  'fapi-open': () => oauth.PrivateKeyJwt(OPEN_KEY.key),
  'fapi-secret': () => oauth.ClientSecretBasic(FAPI_SECRET),
}

function legacyKeyClient (clientId: string, key: FapiKey): ClientMetadata {
  return {
    client_id: clientId,
    redirect_uris: [FAPI_REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [key.publicJwk as never] },
  }
}

/** The clients as the legacy server registers them: no request object, no JARM settings (it has neither). */
export const LEGACY_FAPI_CLIENTS: ClientMetadata[] = [
  legacyKeyClient('fapi-ps', PS_KEY),
  legacyKeyClient('fapi-es', ES_KEY),
  legacyKeyClient('fapi-par', PAR_KEY),
  legacyKeyClient('fapi-open', OPEN_KEY),
  { client_id: 'fapi-secret', client_secret: FAPI_SECRET, redirect_uris: [FAPI_REDIRECT_URI], response_types: ['code'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic' },
]

const JWT_MODES = ['jwt', 'query.jwt', 'fragment.jwt', 'form_post.jwt']

/** The clients as the gateway's config lists them (RFC 7591 / RFC 9101 §10.5 / RFC 9126 §6 names). */
export const GATEWAY_FAPI_CLIENTS: Record<string, Record<string, unknown>> = {
  app1: { authorization_signed_response_alg: 'ES256' },
  'fapi-ps': {
    authorization_signed_response_alg: 'ES256',
    jwks: { keys: [PS_KEY.publicJwk] },
    request_object_signing_alg: 'PS256',
    require_signed_request_object: true,
    token_endpoint_auth_method: 'private_key_jwt',
    redirect_uris: [FAPI_REDIRECT_URI],
    response_modes: JWT_MODES,
  },
  'fapi-es': {
    authorization_signed_response_alg: 'ES256',
    jwks: { keys: [ES_KEY.publicJwk] },
    request_object_signing_alg: 'ES256',
    require_signed_request_object: true,
    token_endpoint_auth_method: 'private_key_jwt',
    redirect_uris: [FAPI_REDIRECT_URI],
    response_modes: JWT_MODES,
  },
  'fapi-par': {
    authorization_signed_response_alg: 'ES256',
    jwks: { keys: [PAR_KEY.publicJwk] },
    request_object_signing_alg: 'ES256',
    require_signed_request_object: true,
    require_pushed_authorization_requests: true,
    token_endpoint_auth_method: 'private_key_jwt',
    redirect_uris: [FAPI_REDIRECT_URI],
    response_modes: JWT_MODES,
  },
  // No redirect_uris here: only a verified request object can vouch for its redirect_uri.
  'fapi-open': {
    authorization_signed_response_alg: 'ES256',
    jwks: { keys: [OPEN_KEY.publicJwk] },
    request_object_signing_alg: 'ES256',
    token_endpoint_auth_method: 'private_key_jwt',
  },
  'fapi-secret': {
    authorization_signed_response_alg: 'ES256',
    client_secret: FAPI_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [FAPI_REDIRECT_URI],
  },
}

export interface FapiStackOptions {
  /** Turn the legacy server's own PAR on (only PAR: it never gets JAR or JARM). */
  readonly legacyPar?: boolean
  /** Gateway settings merged over the FAPI clients (a `clients` here replaces them). */
  readonly config?: Record<string, unknown>
  readonly gateways?: number
  /** More clients at the legacy server. */
  readonly legacyClients?: ClientMetadata[]
  /** Sees every request that reaches the legacy server. */
  readonly onLegacyRequest?: (req: IncomingMessage) => void
}

/** oidc-provider with JARM and JAR off (and PAR off unless asked), the gateway in front of it. */
export function startFapiStack (options: FapiStackOptions = {}): Promise<Stack> {
  const stackOptions: StackOptions = {
    gateways: options.gateways ?? 1,
    legacy: {
      clients: [...DEFAULT_CLIENTS, ...LEGACY_FAPI_CLIENTS, ...options.legacyClients ?? []],
      httpPost: true,
      ...(options.onLegacyRequest === undefined ? {} : { onRequest: options.onLegacyRequest }),
      configuration: {
        features: {
          devInteractions: { enabled: true },
          jwtResponseModes: { enabled: false },
          pushedAuthorizationRequests: { enabled: options.legacyPar === true },
          requestObjects: { enabled: false },
        },
      },
    },
    config: { clients: GATEWAY_FAPI_CLIENTS, ...options.config },
  }
  return startStack(stackOptions)
}

export interface CodeFlow {
  readonly parameters: Record<string, string>
  readonly verifier: string
  readonly state: string
  readonly nonce: string
}

/** What a FAPI client asks for (PKCE S256, nonce, state, response_mode=jwt unless replaced). */
export async function fapiParameters (clientId: string, extra: Record<string, string> = {}): Promise<CodeFlow> {
  return codeFlowParameters(clientId, { response_mode: 'jwt', redirect_uri: FAPI_REDIRECT_URI, ...extra })
}

/** The authorization endpoint with these parameters (FAPI 1.0 Advanced repeats some outside the object). */
export function authorizationUrl (as: oauth.AuthorizationServer, parameters: Record<string, string>): URL {
  const url = new URL(as.authorization_endpoint!)
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value)
  return url
}

/** What FAPI 1.0 Advanced clients send beside the object by value. */
export function byValue (clientId: string, request: string, scope = 'openid'): Record<string, string> {
  return { client_id: clientId, response_type: 'code', scope, redirect_uri: FAPI_REDIRECT_URI, request }
}

/** The code redeemed at the legacy server's token endpoint (through the gateway), the client authenticating as it does. */
export async function redeemAt (as: oauth.AuthorizationServer, client: oauth.Client, callback: URLSearchParams, flow: CodeFlow): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.authorizationCodeGrantRequest(as, client, AUTH[client.client_id]!(), callback, FAPI_REDIRECT_URI, flow.verifier, insecure)
  return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: flow.nonce })
}

/**
 * The OAuth error a JARM error response carries, after oauth4webapi verified it (signature with the
 * gateway's JWKS, iss, aud, exp); the state is not checked (FAPI lets `invalid_request_object` omit it).
 */
export async function jarmError (as: oauth.AuthorizationServer, client: oauth.Client, arrival: Arrival): Promise<{ error: string, description: string | undefined, redirectedTo: string, state: string | undefined }> {
  if (arrival.kind !== 'redirect') throw new Error(`expected a JARM error at the redirect_uri, got a ${arrival.status} ${arrival.kind}: ${arrival.kind === 'page' ? arrival.text : ''}`)
  const parameters = callbackParameters(arrival)
  const redirectedTo = `${arrival.url.origin}${arrival.url.pathname}`
  try {
    await oauth.validateJwtAuthResponse(as, client, parameters, oauth.skipStateCheck, insecure)
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) return { error: error.error, description: error.error_description, redirectedTo, state: error.cause.get('state') ?? undefined }
    throw error
  }
  throw new Error('expected a JARM error, got a successful response')
}

/** The gateway's error page (a refusal it must not redirect): its status and the OAuth error it names. */
export function errorPageOf (arrival: Arrival): { status: number, text: string } {
  if (arrival.kind !== 'page') throw new Error(`expected an error page, got a ${arrival.kind} to ${arrival.kind === 'redirect' ? arrival.url.href : arrival.action}`)
  return { status: arrival.status, text: arrival.text }
}
