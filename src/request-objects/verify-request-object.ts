/**
 * Verifies a request object passed by value (RFC 9101 §6), at the authorization endpoint or inside a
 * pushed request (RFC 9126 §3), for a legacy server that has no JAR: the gateway is the only one that
 * ever checks the signature, so it checks everything a JAR server would, to the FAPI rules (FAPI 1.0
 * Advanced part 2 §5.2.2 and §8.6, FAPI 2.0 Message Signing; see ../shared/FAPI-NOTES.md), and hands
 * on the object's claims as the plain parameters they stand for (RFC 9101 §4).
 *
 * The order is the one that spends nothing on a forgery: decrypt (a JWE must hold a JWS, RFC 9101
 * §6.1), read the header (alg, typ), verify the signature with the keys bound to that client, check
 * the claims, turn them into parameters, and only then record the `jti`, so an object refused for
 * any other reason does not use up its jti. jose does the cryptography; the claims are checked here.
 *
 * Every refusal is `invalid_request_object`; a replay store that cannot answer throws its own error
 * (fail closed), and so does a client key source that has never had the client's keys. Pure apart
 * from the key source and the replay store it is given.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { compactDecrypt, compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose'
import { GatewayError } from '../errors.js'
import type { ParameterList } from '../authorization-request/parameters.js'
import type { DecryptionKey } from '../keys/signing-keys.js'
import type { VerificationKeySource } from '../keys/verification-keys.js'
import type { ReplayStore } from '../replay/replay-store.js'

/** The clock skew allowed on exp, nbf and iat (oidc-provider's 15 s; FAPI 2.0 accepts an nbf a few seconds ahead). */
export const DEFAULT_CLOCK_TOLERANCE_S = 15
/** FAPI 1.0 Advanced part 2 §5.2.2-13: exp no more than 60 minutes after nbf. */
export const MAX_REQUEST_OBJECT_LIFETIME_S = 3600
/** FAPI 1.0 Advanced part 2 §5.2.2-17: nbf no more than 60 minutes in the past. */
export const MAX_NBF_AGE_S = 3600
/** FAPI 1.0 Advanced part 2 §8.6 (PS256, ES256) and FAPI 2.0 Security Profile §5.4.1 (EdDSA too). */
export const FAPI_REQUEST_OBJECT_SIGNING_ALGS: readonly string[] = ['PS256', 'ES256', 'EdDSA']

/** The JWT claims that say how to read the object, not what is asked (RFC 7519 §4.1): never parameters. */
const REGISTERED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti'])
/** RFC 9101 §6.1 / RFC 7515 §4.1.9: the media type is case-insensitive and its "application/" may be left out. */
const ACCEPTED_TYPES: ReadonlySet<string> = new Set(['oauth-authz-req+jwt', 'application/oauth-authz-req+jwt', 'jwt', 'application/jwt'])
/** RFC 8707 §2: `resource` may be repeated, so an array of them is that many parameters (as oauth4webapi sends it). */
export const REPEATABLE_PARAMETERS: ReadonlySet<string> = new Set(['resource'])
/** The parameters whose value is JSON text (OIDC Core §5.5 `claims`, RFC 9396 `authorization_details`). */
export const JSON_PARAMETERS: ReadonlySet<string> = new Set(['claims', 'authorization_details'])
/** The parameters whose value is a number of seconds (OIDC Core §3.1.2.1 `max_age`). */
export const NUMERIC_PARAMETERS: ReadonlySet<string> = new Set(['max_age'])

/** The client the object claims to come from, as the config registers it. */
export interface RequestObjectClient {
  readonly clientId: string
  /** HS256/384/512 verify with its UTF-8 bytes (RFC 7518 §3.2; OIDC Core §10.1). */
  readonly clientSecret?: string | undefined
  /** The client's registered `request_object_signing_alg`: when set, the only one accepted. */
  readonly requestObjectSigningAlg?: string | undefined
  readonly verificationKeys: VerificationKeySource
}

/** Request objects encrypted to the gateway (RFC 9101 §6.1): its `use: "enc"` keys and what they allow. */
export interface RequestObjectDecryption {
  readonly keys: readonly DecryptionKey[]
  /** `request_object_encryption_alg_values_supported`. */
  readonly algs: readonly string[]
  /** `request_object_encryption_enc_values_supported`. */
  readonly encs: readonly string[]
}

export interface RequestObjectPolicy {
  /** The issuer the gateway serves: the only `aud` accepted (alone, or in an array). */
  readonly issuer: string
  /** `request_object_signing_alg_values_supported`; `none` is refused even if listed. */
  readonly signingAlgs: readonly string[]
  /** Absent: encrypted request objects are refused. */
  readonly decryption?: RequestObjectDecryption | undefined
  readonly clockToleranceSeconds?: number | undefined
  /** Present: a `jti` is used once. */
  readonly replayStore?: ReplayStore | undefined
  /** Milliseconds since the epoch; for tests. */
  readonly now?: (() => number) | undefined
}

export interface VerifiedRequestObject {
  readonly clientId: string
  /** Every claim of the verified object, registered ones included. */
  readonly claims: Readonly<Record<string, unknown>>
  /** The authorization parameters the claims stand for, in claim order; never iss/aud/exp/nbf/iat/jti. */
  readonly parameters: ParameterList
  readonly alg: string
  readonly kid: string | undefined
  readonly encrypted: boolean
  /** `exp`, seconds since the epoch: a pushed request made from it must not outlive it. */
  readonly expiresAt: number
}

function refuse (message: string, cause?: unknown): never {
  throw new GatewayError('invalid_request_object', message, { cause })
}

function headerOf (token: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(token)
  } catch (error) {
    return refuse('request object has no readable jose header', error)
  }
}

async function decrypt (jwe: string, decryption: RequestObjectDecryption | undefined): Promise<string> {
  if (decryption === undefined) refuse('request object is encrypted, and the gateway takes no encrypted request objects')
  const { alg, enc, kid } = headerOf(jwe)
  if (typeof alg !== 'string' || !decryption.algs.includes(alg)) refuse(`request object encryption alg ${String(alg)} is not allowed; expected one of ${decryption.algs.join(', ')}`)
  if (typeof enc !== 'string' || !decryption.encs.includes(enc)) refuse(`request object encryption enc ${String(enc)} is not allowed; expected one of ${decryption.encs.join(', ')}`)
  const keys = decryption.keys.filter((key) => key.alg === alg && (kid === undefined || key.kid === kid))
  if (keys.length === 0) refuse(`request object is encrypted to no key of the gateway for ${alg}${kid === undefined ? '' : ` with kid ${kid}`}`)
  let failure: unknown
  for (const key of keys) {
    try {
      const { plaintext } = await compactDecrypt(jwe, key.privateKey, { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: [enc] })
      return new TextDecoder().decode(plaintext)
    } catch (error) {
      failure = error
    }
  }
  return refuse('request object cannot be decrypted with the gateway\'s keys', failure)
}

/** The keys the signature may be checked with: the client secret for HS*, the client's public keys otherwise. */
async function verificationKeysFor (alg: string, kid: string | undefined, client: RequestObjectClient): Promise<ReadonlyArray<KeyObject | Uint8Array>> {
  if (/^HS(256|384|512)$/.test(alg)) {
    if (client.clientSecret === undefined) refuse(`request object alg ${alg} needs a client_secret, and client ${client.clientId} has none`)
    return [new TextEncoder().encode(client.clientSecret)]
  }
  const keys = await client.verificationKeys.verificationKeys(alg, kid)
  if (keys.length === 0) refuse(`request object alg ${alg}${kid === undefined ? '' : ` kid ${kid}`}: client ${client.clientId} has no key that fits`)
  return keys
}

function isTypeAccepted (typ: unknown): boolean {
  return typ === undefined || (typeof typ === 'string' && ACCEPTED_TYPES.has(typ.toLowerCase()))
}

/** The header's checks and the signature: what the payload says, once it is known to come from the client. */
async function verifiedPayload (jws: string, client: RequestObjectClient, policy: RequestObjectPolicy): Promise<{ payload: unknown, alg: string, kid: string | undefined }> {
  const header = headerOf(jws)
  const { alg, typ } = header
  const kid = typeof header.kid === 'string' ? header.kid : undefined
  if (typeof alg !== 'string') refuse('request object alg is missing')
  if (alg.toLowerCase() === 'none') refuse('request object alg none is refused: a request object must be signed')
  if (!policy.signingAlgs.includes(alg)) refuse(`request object alg ${alg} is not allowed; expected one of ${policy.signingAlgs.join(', ')}`)
  const registered = client.requestObjectSigningAlg
  if (registered !== undefined && alg !== registered) refuse(`request object alg ${alg} is not the request_object_signing_alg ${registered} registered for client ${client.clientId}`)
  if (!isTypeAccepted(typ)) refuse(`request object typ ${String(typ)} is not oauth-authz-req+jwt or JWT`)
  let failure: unknown
  for (const key of await verificationKeysFor(alg, kid, client)) {
    try {
      const { payload } = await compactVerify(jws, key, { algorithms: [alg] })
      return { payload: parseJson(payload), alg, kid }
    } catch (error) {
      failure = error
    }
  }
  return refuse(`request object signature does not verify with the keys of client ${client.clientId}`, failure)
}

function parseJson (payload: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(payload))
  } catch {
    return undefined
  }
}

function numericClaim (claims: Readonly<Record<string, unknown>>, name: string, required: boolean): number | undefined {
  const value = claims[name]
  if (value === undefined) return required ? refuse(`request object ${name} is required`) : undefined
  if (typeof value !== 'number') refuse(`request object ${name} must be a number of seconds since the epoch`)
  return value
}

function checkAudience (aud: unknown, issuer: string): void {
  const holds = aud === issuer || (Array.isArray(aud) && aud.includes(issuer))
  if (!holds) refuse(`request object aud must be the issuer ${issuer}, or an array holding it`)
}

/** The time claims (RFC 7519 §4.1.4-6) with the FAPI bounds on them; returns exp. */
function checkTimes (claims: Readonly<Record<string, unknown>>, policy: RequestObjectPolicy): number {
  const tolerance = policy.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_S
  const now = Math.floor((policy.now ?? Date.now)() / 1000)
  const exp = numericClaim(claims, 'exp', true)!
  const nbf = numericClaim(claims, 'nbf', true)!
  const iat = numericClaim(claims, 'iat', false)
  if (exp <= now - tolerance) refuse('request object has expired (exp)')
  if (nbf > now + tolerance) refuse('request object nbf is in the future')
  if (now - nbf > MAX_NBF_AGE_S) refuse(`request object nbf is more than ${MAX_NBF_AGE_S} seconds in the past`)
  if (exp <= nbf) refuse('request object exp must be after its nbf')
  if (exp - nbf > MAX_REQUEST_OBJECT_LIFETIME_S) refuse(`request object exp is more than ${MAX_REQUEST_OBJECT_LIFETIME_S} seconds after its nbf`)
  if (iat !== undefined && iat > now + tolerance) refuse('request object iat is in the future')
  // Accepted until exp + tolerance, so that is how long a jti must be remembered.
  return exp + tolerance
}

/**
 * One claim as authorization parameters: a string as it is, a number in decimal, an object or
 * array as JSON text (`claims`, `authorization_details`), a `resource` array as one parameter per
 * resource. A boolean or null has no form an authorization parameter takes: refused rather than
 * guessed at, so the legacy server never reads something the client did not sign.
 */
function parametersOf (name: string, value: unknown): Array<[string, string]> {
  if (typeof value === 'string') return [[name, value]]
  if (typeof value === 'number') return [[name, String(value)]]
  if (REPEATABLE_PARAMETERS.has(name) && Array.isArray(value)) {
    if (!value.every((entry) => typeof entry === 'string')) refuse(`request object ${name} must be a string or an array of strings`)
    return value.map((entry: string) => [name, entry])
  }
  if (typeof value === 'object' && value !== null) return [[name, JSON.stringify(value)]]
  return refuse(`request object ${name} is ${value === null ? 'null' : `a ${typeof value}`}, which no authorization parameter can carry`)
}

/**
 * Verifies `jwt` as a request object of `client` under `policy` and returns its claims and the
 * parameters they stand for. Throws GatewayError invalid_request_object naming what is wrong.
 */
export async function verifyRequestObject (jwt: string, client: RequestObjectClient, policy: RequestObjectPolicy): Promise<VerifiedRequestObject> {
  const parts = jwt.split('.').length
  if (parts !== 3 && parts !== 5) refuse('request object must be a signed jwt (three parts) or an encrypted one (five parts)')
  const encrypted = parts === 5
  const jws = encrypted ? await decrypt(jwt, policy.decryption) : jwt
  if (encrypted && jws.split('.').length !== 3) refuse('an encrypted request object must hold a signed jwt (a nested jws)')

  const { payload, alg, kid } = await verifiedPayload(jws, client, policy)
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) refuse('request object payload must be a json object')
  const claims = payload as Readonly<Record<string, unknown>>

  if (claims['iss'] !== client.clientId) refuse(`request object iss must be the client_id ${client.clientId}`)
  checkAudience(claims['aud'], policy.issuer)
  const rememberUntil = checkTimes(claims, policy)
  for (const nested of ['request', 'request_uri']) if (nested in claims) refuse(`request object must not contain ${nested} (RFC 9101 §4)`)
  if ('client_id' in claims && claims['client_id'] !== client.clientId) refuse(`request object client_id must be ${client.clientId}, the client it is sent for`)
  const jti = claims['jti']
  if (jti !== undefined && (typeof jti !== 'string' || jti === '')) refuse('request object jti must be a non-empty string')

  const parameters: Array<readonly [string, string]> = []
  for (const [name, value] of Object.entries(claims)) if (!REGISTERED_CLAIMS.has(name)) parameters.push(...parametersOf(name, value))

  if (policy.replayStore !== undefined) {
    // Last, so an object refused for anything else does not use up its jti; store errors propagate.
    // Without a jti the signed object itself is the one-time value: a copy read off a URL (history,
    // logs, a Referer) cannot start the flow again while it is still valid.
    // The signed object, not its encryption: the same JWS encrypted anew is the same request.
    const id = typeof jti === 'string' ? jti : `sha256:${createHash('sha256').update(jws).digest('base64url')}`
    const use = await policy.replayStore.useOnce('request_object_jti', client.clientId, id, rememberUntil)
    if (use === 'replayed') refuse(jti === undefined ? 'request object has been used before: a request object is used once' : 'request object jti has been used before: a request object is used once')
  }
  return Object.freeze({ clientId: client.clientId, claims, parameters: Object.freeze(parameters), alg, kid, encrypted, expiresAt: claims['exp'] as number })
}
