/**
 * Helpers for the request object tests: a client's key pairs as jose and oauth4webapi use them, the
 * claims of a good FAPI request object, objects signed (and encrypted) by jose with any header or
 * claims, and a replay store kept in memory that can be made to fail.
 */
import { randomUUID } from 'node:crypto'
import { CompactEncrypt, CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose'
import { importClientJwks, fixedVerificationKeys } from '../../src/keys/client-keys.js'
import type { ReplayKind, ReplayStore, ReplayStoreStatus } from '../../src/replay/replay-store.js'
import type { RequestObjectClient, RequestObjectPolicy } from '../../src/request-objects/verify-request-object.js'

export const ISSUER = 'https://gateway.example.com'
export const PAR_ENDPOINT = `${ISSUER}/par`
export const CLIENT_ID = 'app1'
export const REDIRECT_URI = 'https://client.example.org/cb'
/** 64 bytes: enough for HS512 (RFC 7518 §3.2). */
export const CLIENT_SECRET = 'app1-secret-that-is-long-enough-for-any-alg-HS512-needs-64-bytes!'

export type ClientAlg = 'PS256' | 'ES256' | 'EdDSA' | 'RS256'

export interface ClientKeyPair {
  readonly alg: ClientAlg
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

export async function clientKeyPair (alg: ClientAlg, kid: string = `${alg.toLowerCase()}-key`): Promise<ClientKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  return { alg, kid, privateKey, publicJwk: { ...await exportJWK(publicKey), kid } }
}

/** The client as the config would register it, its keys inline. */
export function clientWith (jwks: JWK[], extra: Partial<RequestObjectClient> = {}): RequestObjectClient {
  const { keys, problems } = importClientJwks({ keys: jwks }, 'jwks')
  if (problems.length > 0) throw new Error(problems.join('; '))
  return { clientId: CLIENT_ID, verificationKeys: fixedVerificationKeys(keys), ...extra }
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** What a FAPI 1.0 Advanced client with JARM asks for. */
export const AUTHORIZATION_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({
  client_id: CLIENT_ID,
  response_type: 'code',
  response_mode: 'jwt',
  redirect_uri: REDIRECT_URI,
  scope: 'openid accounts',
  state: 'state-inside',
  nonce: 'nonce-inside',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  code_challenge_method: 'S256',
})

/** A request object's claims asking for AUTHORIZATION_PARAMETERS, valid for five minutes from now. */
export function goodClaims (now: number = nowSeconds()): Record<string, unknown> {
  return { iss: CLIENT_ID, aud: ISSUER, ...AUTHORIZATION_PARAMETERS, iat: now, nbf: now, exp: now + 300, jti: randomUUID() }
}

/** Any claims under any header, signed by jose: the objects a careless or hostile client makes. */
export async function signedObject (claims: Record<string, unknown>, key: CryptoKey | Uint8Array, header: { alg: string, kid?: string, typ?: string }): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(header).sign(key)
}

/** `plaintext` (a signed object, or anything) encrypted by jose to a gateway key. */
export async function encryptedObject (plaintext: string, key: Parameters<CompactEncrypt['encrypt']>[0], header: { alg: string, enc: string, kid?: string }): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader({ cty: 'JWT', ...header }).encrypt(key)
}

/** Header and payload as given, no signature: `alg: none` made by hand, as no library will. */
export function unsignedObject (header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part(header)}.${part(claims)}.`
}

export function policyWith (extra: Partial<RequestObjectPolicy> = {}): RequestObjectPolicy {
  return { issuer: ISSUER, signingAlgs: ['PS256', 'ES256', 'EdDSA', 'Ed25519', 'HS256'], ...extra }
}

/** A replay store in memory, as the interface promises it; `down` makes it fail like an unreachable Redis. */
export class FakeReplayStore implements ReplayStore {
  readonly calls: Array<{ kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number }> = []
  readonly #seen = new Set<string>()
  down: Error | undefined
  get healthy (): boolean { return this.down === undefined }
  get status (): ReplayStoreStatus { return this.down === undefined ? 'ok' : 'unreachable' }

  async useOnce (kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number): Promise<'fresh' | 'replayed'> {
    if (this.down !== undefined) throw this.down
    this.calls.push({ kind, clientId, id, expiresAtSeconds })
    const key = JSON.stringify([kind, clientId, id])
    if (this.#seen.has(key)) return 'replayed'
    this.#seen.add(key)
    return 'fresh'
  }

  async close (): Promise<void> {}
}
