/**
 * Who is pushing? Client authentication at the gateway's own PAR endpoint (RFC 9126 §2: the same
 * as at the token endpoint), for the four methods a legacy server's clients register:
 * `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1), `private_key_jwt` (RFC 7523,
 * src/pushed-requests/client-assertion.ts) and `tls_client_auth` (RFC 8705 §2.1,
 * src/pushed-requests/certificate-subject.ts).
 *
 * A request uses exactly one method (RFC 6749 §2.3: "The client MUST NOT use more than one
 * authentication method in each request"), and it must be the one the client registered, so a
 * client registered for private_key_jwt cannot be authenticated by a leaked secret. A client
 * certificate alone is not a method used: a client may present one for certificate-bound tokens
 * (RFC 8705 §3) while it authenticates with private_key_jwt; it is the method only when nothing
 * else is sent.
 *
 * Every refusal is `invalid_client` (401) naming what failed and never holding the secret or the
 * assertion. When the `Authorization` header was used, the 401 must carry `WWW-Authenticate`
 * (RFC 6749 §5.2): the refusal says so (ClientAuthenticationFailed.basicAttempted).
 */
import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { ParameterList } from '../authorization-request/parameters.js'
import type { VerificationKeySource } from '../keys/verification-keys.js'
import { certificateMatchesSubject, tlsClientAuthProblem, type TlsClientAuthSubject } from './certificate-subject.js'
import { JWT_BEARER_ASSERTION_TYPE, unverifiedAssertionIssuer, verifyClientAssertion, type ClientAssertionPolicy } from './client-assertion.js'

export type ClientAuthenticationMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'tls_client_auth'

/** What the gateway knows of a client to authenticate it (from clients.<id> in the config). */
export interface ClientCredentials extends TlsClientAuthSubject {
  readonly tokenEndpointAuthMethod: ClientAuthenticationMethod
  /** For client_secret_basic and client_secret_post. */
  readonly clientSecret?: string | undefined
  /** For private_key_jwt. */
  readonly verificationKeys?: VerificationKeySource | undefined
}

export type ClientLookup = (clientId: string) => ClientCredentials | undefined

export interface ClientAuthenticationInput {
  /** The Authorization header, as received. */
  readonly authorization: string | undefined
  /** The form body of the PAR request. */
  readonly parameters: ParameterList
  /** The client certificate of the connection, already verified by TLS (src/tls/listen-tls.ts). */
  readonly clientCertificate: X509Certificate | undefined
}

export type ClientAuthenticationPolicy = ClientAssertionPolicy

export interface AuthenticatedClient {
  readonly clientId: string
  readonly method: ClientAuthenticationMethod
  /** The form parameters without client_secret, client_assertion and client_assertion_type (client_id is kept when sent). */
  readonly parameters: ParameterList
}

/** The parameters that authenticate, never passed on. */
export const AUTHENTICATION_PARAMETERS: ReadonlySet<string> = new Set(['client_secret', 'client_assertion', 'client_assertion_type'])

/** `invalid_client`, and whether the client tried the Authorization header (then the 401 carries WWW-Authenticate). */
export class ClientAuthenticationFailed extends GatewayError {
  readonly basicAttempted: boolean

  constructor (message: string, basicAttempted: boolean, options?: { cause?: unknown }) {
    super('invalid_client', message, options)
    this.name = 'ClientAuthenticationFailed'
    this.basicAttempted = basicAttempted
  }
}

/** RFC 6749 §3.1: a parameter without a value is omitted; the authenticating ones appear once at most. */
function authenticationValue (parameters: ParameterList, name: string): string | undefined {
  const values = parameters.filter(([n]) => n === name).map(([, value]) => value)
  if (values.length > 1) throw new GatewayError('duplicate_parameter', `parameter ${name} must not be sent more than once`)
  return values[0] === '' ? undefined : values[0]
}

/** RFC 6749 §2.3.1 / Appendix B: each half of the Basic credentials is application/x-www-form-urlencoded. */
function formDecode (value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/** client_id and client_secret from `Basic <base64>` (RFC 7617), or a refusal message. */
function basicCredentials (authorization: string): { clientId: string, secret: string } | string {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)
  if (match === null) return 'the Authorization header must be Basic credentials'
  const token = match[1]!
  const raw = Buffer.from(token, 'base64')
  let decoded: string
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(raw)
  } catch {
    return 'the Basic credentials are not UTF-8'
  }
  const colon = decoded.indexOf(':')
  // Only the canonical spelling: Node's decoder would also take trailing bits that mean nothing.
  if (raw.toString('base64').replace(/=+$/, '') !== token.replace(/=+$/, '') || colon === -1) return 'the Basic credentials must be base64 of client_id:client_secret'
  const clientId = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  if (clientId === undefined || secret === undefined) return 'the Basic credentials must be form-urlencoded client_id and client_secret'
  if (clientId === '') return 'the Basic credentials have an empty client_id'
  return { clientId, secret }
}

/** Constant time whatever the lengths: the digests are compared, never the secrets. */
function sameSecret (given: string, registered: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()
  return timingSafeEqual(digest(given), digest(registered))
}

/**
 * The authenticated client and the parameters to validate as the authorization request, or
 * ClientAuthenticationFailed / GatewayError `invalid_client` (`duplicate_parameter` for a repeated
 * client_id, client_secret, client_assertion or client_assertion_type). Errors of the key source
 * and the replay store propagate.
 */
export async function authenticateClient (input: ClientAuthenticationInput, clients: ClientLookup, policy: ClientAuthenticationPolicy): Promise<AuthenticatedClient> {
  const basicAttempted = input.authorization !== undefined
  const refuse = (message: string): ClientAuthenticationFailed => new ClientAuthenticationFailed(message, basicAttempted)
  const bodyClientId = authenticationValue(input.parameters, 'client_id')
  const bodySecret = authenticationValue(input.parameters, 'client_secret')
  const assertion = authenticationValue(input.parameters, 'client_assertion')
  const assertionType = authenticationValue(input.parameters, 'client_assertion_type')
  const usingAssertion = assertion !== undefined || assertionType !== undefined
  if ([basicAttempted, bodySecret !== undefined, usingAssertion].filter(Boolean).length > 1) {
    throw refuse('the client must use exactly one authentication method, not several (Authorization header, client_secret, client_assertion)')
  }

  let method: ClientAuthenticationMethod
  let clientId: string | undefined
  let secret: string | undefined
  if (basicAttempted) {
    const credentials = basicCredentials(input.authorization!)
    if (typeof credentials === 'string') throw refuse(credentials)
    method = 'client_secret_basic'
    clientId = credentials.clientId
    secret = credentials.secret
  } else if (bodySecret !== undefined) {
    method = 'client_secret_post'
    clientId = bodyClientId
    secret = bodySecret
  } else if (usingAssertion) {
    if (assertionType !== JWT_BEARER_ASSERTION_TYPE) throw refuse(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`)
    if (assertion === undefined) throw refuse('client_assertion is missing')
    method = 'private_key_jwt'
    clientId = bodyClientId ?? unverifiedAssertionIssuer(assertion)
  } else {
    method = 'tls_client_auth'
    clientId = bodyClientId
  }
  if (clientId === undefined) throw refuse('client_id is missing')
  if (bodyClientId !== undefined && bodyClientId !== clientId) throw refuse('client_id in the body is not the client that authenticated')
  const client = clients(clientId)
  if (client === undefined) throw refuse(`client ${clientId} is not registered at the gateway`)
  if (method === 'tls_client_auth' && input.clientCertificate === undefined) {
    throw refuse(client.tokenEndpointAuthMethod === 'tls_client_auth' ? 'a client certificate is required (tls_client_auth)' : 'client authentication is required')
  }
  if (client.tokenEndpointAuthMethod !== method) throw refuse(`client ${clientId} must authenticate with ${client.tokenEndpointAuthMethod}, not ${method}`)

  switch (method) {
    case 'client_secret_basic':
    case 'client_secret_post':
      if (client.clientSecret === undefined || !sameSecret(secret!, client.clientSecret)) throw refuse(`the client secret of ${clientId} is wrong`)
      break
    case 'private_key_jwt':
      if (client.verificationKeys === undefined) throw new GatewayError('internal_error', `client ${clientId} uses private_key_jwt but has no keys configured`)
      await verifyClientAssertion(assertion!, clientId, client.verificationKeys, policy)
      break
    case 'tls_client_auth': {
      const problem = tlsClientAuthProblem(client)
      if (problem !== undefined) throw new GatewayError('internal_error', `client ${clientId} tls_client_auth registration: ${problem}`)
      if (!certificateMatchesSubject(input.clientCertificate!, client)) throw refuse(`the client certificate does not hold the subject registered for ${clientId}`)
      break
    }
  }
  return { clientId, method, parameters: input.parameters.filter(([name]) => !AUTHENTICATION_PARAMETERS.has(name)) }
}
