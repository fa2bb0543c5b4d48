/**
 * `private_key_jwt` (RFC 7523 §2.2, §3; RFC 7521 §4.2; OpenID Connect Core §9): a JWT the client
 * signed with its private key, checked against the public keys registered for it.
 *
 * The audience is the 2025 "audience injection" fix (Hosseyni, Küsters, Würtele; OIDF disclosure of
 * January 2025): draft-ietf-oauth-rfc7523bis §4 makes the issuer identifier the *sole* audience of a
 * client authentication JWT, compared as a simple string, and the server "MUST reject any JWT that
 * does not contain its issuer identifier as its sole audience value" (§5 says the same of the PAR
 * endpoint, replacing RFC 9126's "issuer, token endpoint or PAR endpoint URL"); FAPI 2.0 Security
 * Profile (final) §5.3.2.1: the server "shall only accept its issuer identifier value ... as a string
 * in the aud claim". So `aud` must be exactly the issuer, a JSON string: the token or PAR endpoint
 * URL is refused, and so is an array, even one holding the issuer alone (the draft would allow that
 * one; FAPI, the stricter, does not, and oauth4webapi and openid-client send a string).
 *
 * `typ` (rfc7523bis §4: clients SHOULD send `client-authentication+jwt`; servers are advised not to
 * require it): absent, `JWT` and `client-authentication+jwt` are accepted; any other explicit type is
 * a JWT made for something else (a request object is `oauth-authz-req+jwt` and also has iss = the
 * client and aud = the issuer) and is refused (RFC 8725 §3.11).
 *
 * Never `none`, never HS* (that is client_secret_jwt, a shared secret, not this method), whatever
 * the allowed list says. `jti` is required and used once across replicas (RFC 7523 §3 item 7 lets
 * the server insist); it is remembered until `exp` plus the clock tolerance, the last moment the
 * assertion would still be accepted.
 */
import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose'
import type { KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { VerificationKeySource } from '../keys/verification-keys.js'
import type { ReplayStore } from '../replay/replay-store.js'

/** RFC 7523 §2.2. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/**
 * The furthest `exp` may lie ahead of now: its `jti` is kept that long, and clients make assertions
 * for a minute (oauth4webapi, openid-client: 60 s).
 */
export const MAX_ASSERTION_LIFETIME_S = 600
/** A jti is a store key: long enough for any random id, short enough to bound the store. */
export const MAX_JTI_CHARS = 256
const ACCEPTED_TYPES: ReadonlySet<string> = new Set(['jwt', 'client-authentication+jwt'])

export interface ClientAssertionPolicy {
  /** This gateway's issuer identifier: the one accepted audience. */
  readonly issuer: string
  readonly replay: ReplayStore
  /** Milliseconds since the epoch (injectable for tests). */
  readonly now?: (() => number) | undefined
  /** Seconds of clock difference allowed on exp, nbf and iat (FAPI 2.0 asks for at least 10). */
  readonly clockToleranceSeconds: number
  /** JWS algorithms accepted for assertions, e.g. PS256, ES256, EdDSA; none and HS* are refused anyway. */
  readonly allowedAssertionAlgs: readonly string[]
}

function refuse (message: string, cause?: unknown): GatewayError {
  return new GatewayError('invalid_client', message, cause === undefined ? undefined : { cause })
}

function readHeader (assertion: string): ProtectedHeaderParameters {
  if (assertion.split('.').length !== 3) throw refuse('client_assertion must be a signed JWT (JWS compact serialization)')
  try {
    return decodeProtectedHeader(assertion)
  } catch (cause) {
    throw refuse('client_assertion has an unreadable header', cause)
  }
}

function checkHeader (header: ProtectedHeaderParameters, allowedAlgs: readonly string[]): string {
  const alg = header.alg
  if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw refuse('client_assertion must be signed: alg none is not accepted')
  if (alg.startsWith('HS')) throw refuse(`client_assertion must be signed with the client's private key, not ${alg} (private_key_jwt)`)
  if (!allowedAlgs.includes(alg)) throw refuse(`client_assertion alg ${alg} is not accepted; use one of ${allowedAlgs.join(', ')}`)
  if (header.typ !== undefined && !ACCEPTED_TYPES.has(String(header.typ).toLowerCase().replace(/^application\//, ''))) {
    throw refuse('client_assertion typ must be client-authentication+jwt or JWT when present')
  }
  // RFC 7797: a JWT never has an unencoded payload.
  if ('b64' in header) throw refuse('client_assertion must not use the b64 header parameter')
  return alg
}

async function verifiedPayload (assertion: string, alg: string, keys: readonly KeyObject[]): Promise<Uint8Array> {
  let lastFailure: unknown
  for (const key of keys) {
    try {
      return (await compactVerify(assertion, key, { algorithms: [alg] })).payload
    } catch (cause) {
      lastFailure = cause
    }
  }
  throw refuse("client_assertion signature does not verify with the client's registered keys", lastFailure)
}

function readClaims (payload: Uint8Array): Record<string, unknown> {
  let claims: unknown
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload))
  } catch (cause) {
    throw refuse('client_assertion payload is not a JSON object', cause)
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw refuse('client_assertion payload is not a JSON object')
  return claims as Record<string, unknown>
}

function checkTimes (claims: Record<string, unknown>, nowSeconds: number, tolerance: number): number {
  const { exp, nbf, iat } = claims
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw refuse('client_assertion must have a numeric exp claim')
  if (exp <= nowSeconds - tolerance) throw refuse('client_assertion has expired (exp)')
  if (exp > nowSeconds + MAX_ASSERTION_LIFETIME_S + tolerance) throw refuse(`client_assertion exp must be at most ${MAX_ASSERTION_LIFETIME_S} seconds ahead`)
  for (const [name, value] of [['nbf', nbf], ['iat', iat]] as const) {
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isFinite(value)) throw refuse(`client_assertion ${name} claim must be a number`)
    if (value > nowSeconds + tolerance) throw refuse(`client_assertion ${name} is in the future`)
    if (value >= exp) throw refuse(`client_assertion ${name} must be before its exp`)
  }
  return exp
}

/**
 * The client's `iss` read from an assertion without verifying it: only to find whose keys verify it
 * when the body carries no client_id. Undefined when unreadable.
 */
export function unverifiedAssertionIssuer (assertion: string): string | undefined {
  const payload = assertion.split('.')[1]
  try {
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { iss?: unknown } | null
    return typeof claims?.iss === 'string' ? claims.iss : undefined
  } catch {
    return undefined
  }
}

/**
 * Verifies that `assertion` authenticates `clientId`, and records its jti as used. Refusals are
 * GatewayError `invalid_client` whose messages never hold the assertion; a key source that cannot
 * give keys and a replay store that cannot answer throw their own errors (fail closed).
 */
export async function verifyClientAssertion (assertion: string, clientId: string, keySource: VerificationKeySource, policy: ClientAssertionPolicy): Promise<void> {
  const header = readHeader(assertion)
  const alg = checkHeader(header, policy.allowedAssertionAlgs)
  const keys = await keySource.verificationKeys(alg, header.kid)
  if (keys.length === 0) throw refuse(`no registered key of the client fits client_assertion alg ${alg}${header.kid === undefined ? '' : ` and kid ${header.kid}`}`)
  const claims = readClaims(await verifiedPayload(assertion, alg, keys))
  if (claims['iss'] !== clientId || claims['sub'] !== clientId) throw refuse('client_assertion iss and sub must both be the client_id')
  if (Array.isArray(claims['aud'])) throw refuse(`client_assertion aud must be the issuer ${policy.issuer} as a single string, not an array`)
  if (claims['aud'] !== policy.issuer) throw refuse(`client_assertion aud must be the issuer ${policy.issuer}`)
  const nowSeconds = Math.floor((policy.now ?? Date.now)() / 1000)
  const exp = checkTimes(claims, nowSeconds, policy.clockToleranceSeconds)
  const jti = claims['jti']
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_CHARS) throw refuse(`client_assertion must have a jti claim, a string of 1 to ${MAX_JTI_CHARS} characters`)
  if (await policy.replay.useOnce('client_assertion_jti', clientId, jti, exp + policy.clockToleranceSeconds) === 'replayed') {
    throw refuse('client_assertion was already used (its jti was seen before)')
  }
}
