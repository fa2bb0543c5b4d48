/**
 * The clients' public keys, for encrypting responses to them and verifying what they sign (request
 * objects): from an inline `jwks` (checked at config load) or from a `jwks_uri`, fetched with a
 * timeout and a size limit, cached, and fetched again when it holds no key for the algorithm asked
 * (a client that rotated its keys), never more often than a set interval so a client cannot make the
 * gateway hammer its server, nor anyone make the gateway hammer a client's.
 *
 * Which key encrypts: the first key of the set, in listed order, that fits the algorithm: `use`
 * absent or "enc", `alg` absent or equal, and the key type the algorithm needs (RSA of 2048+ bits
 * for RSA-OAEP*, EC P-256/P-384/P-521 or OKP X25519 for ECDH-ES*).
 *
 * Which keys verify: every key that fits the JWS algorithm, in listed order: `use` absent or "sig",
 * `alg` absent or equal, `kid` equal when the JWS header names one (RFC 7515 §4.1.4), and the key
 * type the algorithm needs (RSA of 2048+ bits for RS256-512 and PS256-512, the EC curve of
 * ES256/384/512, OKP Ed25519 for EdDSA and its fully specified name Ed25519, RFC 9864).
 */
import { createPublicKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { getFromUpstream } from '../http/upstream-request.js'
import type { EncryptionAlg, EncryptionRecipient } from '../jarm/encrypt-response.js'
import type { VerificationKeySource } from './verification-keys.js'

const MIN_RSA_BITS = 2048
const ECDH_CURVES: ReadonlySet<string> = new Set(['P-256', 'P-384', 'P-521', 'X25519'])
/** The curve each elliptic-curve JWS algorithm signs on (RFC 7518 §3.4, RFC 8037 §3.1, RFC 9864 §2.2). */
const SIGNATURE_CURVES: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521', EdDSA: 'Ed25519', Ed25519: 'Ed25519' }

export interface ClientPublicKey {
  readonly kid: string | undefined
  readonly kty: string
  readonly crv: string | undefined
  readonly use: string | undefined
  readonly alg: string | undefined
  readonly key: KeyObject
}

/** Where a client's remote keys come from and how they are fetched. */
export interface RemoteKeyOptions {
  readonly timeoutMs: number
  readonly maxBytes: number
  /** How long fetched keys are used before they are fetched again. */
  readonly cacheMs: number
  /** The least time between two fetches of one jwks_uri. */
  readonly minRefetchMs: number
}

function isLargeRsa (key: ClientPublicKey): boolean {
  return key.kty === 'RSA' && key.key.asymmetricKeyDetails!.modulusLength! >= MIN_RSA_BITS
}

function fitsEncryption (key: ClientPublicKey, alg: EncryptionAlg): boolean {
  if (key.use !== undefined && key.use !== 'enc') return false
  if (key.alg !== undefined && key.alg !== alg) return false
  if (alg.startsWith('RSA-OAEP')) return isLargeRsa(key)
  return (key.kty === 'EC' || key.kty === 'OKP') && ECDH_CURVES.has(key.crv!)
}

export function selectEncryptionKey (keys: readonly ClientPublicKey[], alg: EncryptionAlg): ClientPublicKey | undefined {
  return keys.find((key) => fitsEncryption(key, alg))
}

function fitsSignature (key: ClientPublicKey, alg: string, kid: string | undefined): boolean {
  if (key.use !== undefined && key.use !== 'sig') return false
  if (key.alg !== undefined && key.alg !== alg) return false
  if (kid !== undefined && key.kid !== kid) return false
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return isLargeRsa(key)
  // An unknown algorithm (HS*, none, anything else) has no curve, so no public key fits it.
  const curve = SIGNATURE_CURVES[alg]
  return curve !== undefined && key.crv === curve
}

/** The keys that may have signed with `alg` (and `kid`, when the JWS header names one), in listed order. */
export function selectVerificationKeys (keys: readonly ClientPublicKey[], alg: string, kid: string | undefined): KeyObject[] {
  return keys.filter((key) => fitsSignature(key, alg, kid)).map((key) => key.key)
}

/**
 * Reads a JWKS of public keys. Keys the gateway cannot use (private members, unknown types, symmetric
 * keys) are reported as problems with their path; the caller decides whether that is fatal.
 */
export function importClientJwks (jwks: unknown, path: string): { keys: ClientPublicKey[], problems: string[] } {
  const list = (jwks as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) return { keys: [], problems: [`${path}: must be a JWKS, an object with a "keys" array`] }
  const keys: ClientPublicKey[] = []
  const problems: string[] = []
  for (const [index, entry] of list.entries()) {
    const at = `${path}.keys[${index}]`
    const jwk = entry as Record<string, unknown>
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) { problems.push(`${at}: must be a JWK object`); continue }
    if (jwk['kty'] !== 'RSA' && jwk['kty'] !== 'EC' && jwk['kty'] !== 'OKP') { problems.push(`${at}.kty: must be RSA, EC or OKP (public keys only)`); continue }
    if ('d' in jwk) { problems.push(`${at}.d: a client's private key must never be configured; give its public key only`); continue }
    try {
      const key = createPublicKey({ key: jwk as NodeJwk, format: 'jwk' })
      const text = (name: string): string | undefined => typeof jwk[name] === 'string' ? jwk[name] : undefined
      keys.push(Object.freeze({ kid: text('kid'), kty: jwk['kty'], crv: text('crv'), use: text('use'), alg: text('alg'), key }))
    } catch (error) {
      problems.push(`${at}: not a usable public key (${(error as Error).message})`)
    }
  }
  return { keys, problems }
}

/** Anything that can name the key a client's responses are encrypted to. */
export interface RecipientSource {
  recipientFor (alg: EncryptionAlg): Promise<EncryptionRecipient>
}

/** A recipient fixed at config load: an inline key, or a key derived from the client secret. */
export function fixedRecipient (recipient: EncryptionRecipient): RecipientSource {
  return { recipientFor: async () => recipient }
}

/** Keys fixed at config load: the client's inline `jwks`. */
export function fixedVerificationKeys (keys: readonly ClientPublicKey[]): VerificationKeySource {
  return { verificationKeys: async (alg, kid) => selectVerificationKeys(keys, alg, kid) }
}

/** Keys at the client's jwks_uri: what its responses are encrypted to and its request objects verified with. */
export class RemoteClientKeys implements RecipientSource, VerificationKeySource {
  readonly #clientId: string
  readonly #uri: URL
  readonly #options: RemoteKeyOptions
  readonly #now: () => number
  #keys: readonly ClientPublicKey[] = []
  #lastError: Error | undefined
  #fetchedAt = -Infinity
  #attemptedAt = -Infinity
  #inFlight: Promise<void> | undefined

  constructor (clientId: string, uri: string, options: RemoteKeyOptions, now: () => number = Date.now) {
    this.#clientId = clientId
    this.#uri = new URL(uri)
    this.#options = options
    this.#now = now
  }

  async recipientFor (alg: EncryptionAlg): Promise<EncryptionRecipient> {
    const key = await this.#select((keys) => selectEncryptionKey(keys, alg))
    if (key === undefined) {
      throw new GatewayError('encryption_key_unavailable', `client ${this.#clientId} publishes no usable key for ${alg} at its jwks_uri; the response is not sent unencrypted`, { cause: this.#lastError })
    }
    return { key: key.key, kid: key.kid }
  }

  async verificationKeys (alg: string, kid: string | undefined): Promise<readonly KeyObject[]> {
    const keys = await this.#select((all) => {
      const fitting = selectVerificationKeys(all, alg, kid)
      return fitting.length > 0 ? fitting : undefined
    })
    if (keys !== undefined) return keys
    // No key fits: an answer only when the set itself is known; a jwks_uri never fetched is no verdict on the signature.
    if (this.#fetchedAt === -Infinity) {
      throw new GatewayError('client_keys_unavailable', `the keys of client ${this.#clientId} cannot be fetched from its jwks_uri`, { cause: this.#lastError })
    }
    return []
  }

  /** What `pick` finds in the keys, fetched again first when they are stale or hold nothing it wants. */
  async #select<T> (pick: (keys: readonly ClientPublicKey[]) => T | undefined): Promise<T | undefined> {
    const stale = this.#now() - this.#fetchedAt >= this.#options.cacheMs
    const found = stale ? undefined : pick(this.#keys)
    if (found !== undefined) return found
    // Unknown (or stale) keys: fetch again, at most once per minRefetchMs.
    if (this.#now() - this.#attemptedAt >= this.#options.minRefetchMs) await this.#refresh()
    return pick(this.#keys)
  }

  #refresh (): Promise<void> {
    this.#inFlight ??= this.#fetch().finally(() => { this.#inFlight = undefined })
    return this.#inFlight
  }

  async #fetch (): Promise<void> {
    this.#attemptedAt = this.#now()
    try {
      const reply = await getFromUpstream(this.#uri, { timeoutMs: this.#options.timeoutMs, maxBytes: this.#options.maxBytes })
      if (reply.status !== 200) throw new Error(`HTTP ${reply.status}`)
      const { keys } = importClientJwks(JSON.parse(reply.body.toString('utf8')), 'jwks_uri')
      this.#keys = keys
      this.#fetchedAt = this.#now()
      this.#lastError = undefined
    } catch (error) {
      // Keep the keys fetched before, if any: a client's server having a bad minute is no reason to stop.
      this.#lastError = new Error(`jwks_uri of client ${this.#clientId}: ${(error as Error).message}`)
    }
  }
}
