/**
 * The gateway's own keys: loaded and checked once (jose for the RFC 7638 thumbprint and key
 * generation), imported as KeyObjects once, published as public JWKs with kid, use and alg.
 *
 * Which key signs: each key serves exactly one algorithm (its JWK `alg`, or the usual one for its
 * type: RS256 for RSA, ES256/384/512 by curve, EdDSA for Ed25519). Where several keys serve the same
 * algorithm, the first one listed signs, so rotation is: add the new key first, keep the old one
 * published until its last response has expired, then remove it.
 *
 * A key marked `use: "enc"` never signs: it decrypts what clients encrypt to the gateway (request
 * objects, RFC 9101 §6.1), with one key-management algorithm (its JWK `alg`, or RSA-OAEP-256 for RSA
 * and ECDH-ES for EC P-256/384/521 and X25519). Separate keys for signing and encryption, as RFC
 * 7517 §4.2 asks: a key never serves both. A key without `use` stays a signing key, as it always was.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import { ASYMMETRIC_ALGS, asymmetricSigner, type AsymmetricAlg, type Signer } from '../jarm/sign-jwt.js'
import { ENCRYPTION_ENCS, type EncryptionAlg, type EncryptionEnc } from '../jarm/encrypt-response.js'

const MIN_RSA_BITS = 2048
const CURVE_ALGS: Readonly<Record<string, AsymmetricAlg>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', Ed25519: 'EdDSA' }
/** The key-management algorithms a gateway key decrypts with: the public-key ones of the JARM encryption. */
export type DecryptionAlg = Extract<EncryptionAlg, 'RSA-OAEP' | 'RSA-OAEP-256' | 'ECDH-ES' | 'ECDH-ES+A128KW' | 'ECDH-ES+A256KW'>
const RSA_DECRYPTION_ALGS: readonly DecryptionAlg[] = ['RSA-OAEP-256', 'RSA-OAEP']
const ECDH_DECRYPTION_ALGS: readonly DecryptionAlg[] = ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW']
const ECDH_CURVES: ReadonlySet<string> = new Set(['P-256', 'P-384', 'P-521', 'X25519'])
/** Content encryption is not tied to a key: every one the JARM encryption knows is accepted. */
export const REQUEST_OBJECT_ENCRYPTION_ENCS: readonly EncryptionEnc[] = ENCRYPTION_ENCS

export interface SigningKey {
  readonly kid: string
  readonly alg: AsymmetricAlg
  readonly signer: Signer
  /** Public members only, with kid, use: sig and alg: what clients fetch from the JWKS. */
  readonly publicJwk: Readonly<JWK>
  readonly ephemeral: boolean
}

function algorithmsFor (jwk: JWK): readonly AsymmetricAlg[] {
  if (jwk.kty === 'RSA') return ASYMMETRIC_ALGS.filter((alg) => alg.startsWith('RS') || alg.startsWith('PS'))
  const alg = CURVE_ALGS[jwk.crv ?? '']
  return alg === undefined ? [] : [alg]
}

function defaultAlgorithm (jwk: JWK): AsymmetricAlg | undefined {
  // Only called for keys algorithmsFor() accepted: an EC or OKP key here has a known crv.
  return jwk.kty === 'RSA' ? 'RS256' : CURVE_ALGS[jwk.crv!]
}

/** A key the gateway decrypts with; never a signing key. */
export interface DecryptionKey {
  readonly kid: string
  readonly alg: DecryptionAlg
  readonly privateKey: KeyObject
  /** Public members only, with kid, use: enc and alg: what clients encrypt to. */
  readonly publicJwk: Readonly<JWK>
}

function importPrivate (jwk: JWK): { privateKey: KeyObject, publicMembers: JWK } {
  const privateKey: KeyObject = createPrivateKey({ key: jwk as NodeJwk, format: 'jwk' })
  const { kty, crv, n, e, x, y } = createPublicKey(privateKey).export({ format: 'jwk' })
  return { privateKey, publicMembers: Object.fromEntries(Object.entries({ kty, crv, n, e, x, y }).filter(([, v]) => v !== undefined)) }
}

async function toSigningKey (jwk: JWK, kid: string, alg: AsymmetricAlg, ephemeral: boolean): Promise<SigningKey> {
  const { privateKey, publicMembers } = importPrivate(jwk)
  return Object.freeze({ kid, alg, signer: asymmetricSigner(alg, privateKey), publicJwk: Object.freeze({ ...publicMembers, kid, use: 'sig', alg }), ephemeral })
}

function decryptionAlgorithmsFor (jwk: JWK): readonly DecryptionAlg[] {
  if (jwk.kty === 'RSA') return RSA_DECRYPTION_ALGS
  return ECDH_CURVES.has(jwk.crv ?? '') ? ECDH_DECRYPTION_ALGS : []
}

/** The checks a `use: "enc"` key needs: the problem with it, or the algorithm it decrypts with. */
function decryptionAlgorithm (jwk: JWK, at: string): { alg: DecryptionAlg } | { problem: string } {
  const fits = decryptionAlgorithmsFor(jwk)
  if (fits.length === 0) return { problem: `${at}.crv: an encryption key must be RSA, EC P-256, P-384, P-521 or X25519` }
  // The first algorithm listed for a type is its default.
  const alg = (jwk.alg ?? fits[0]) as DecryptionAlg
  if (!fits.includes(alg)) return { problem: `${at}.alg: ${String(jwk.alg)} cannot be used with this encryption key; expected one of ${fits.join(', ')}` }
  return { alg }
}

/**
 * Loads a JWKS of private keys: signing keys (`use` absent or "sig") and decryption keys (`use:
 * "enc"`). Every problem is reported with its path (`keys.keys[1].kid`), not just the first, so an
 * operator fixes the file in one go. A kid is unique across both kinds: the JWKS publishes them together.
 */
export async function loadSigningKeys (jwks: unknown, path: string): Promise<{ keys: SigningKey[], decryptionKeys: DecryptionKey[], problems: string[] }> {
  const problems: string[] = []
  const keys: SigningKey[] = []
  const decryptionKeys: DecryptionKey[] = []
  const list = (jwks as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) return { keys, decryptionKeys, problems: [`${path}: must be a JWKS, an object with a "keys" array`] }
  const kids = new Set<string>()
  for (const [index, entry] of list.entries()) {
    const at = `${path}.keys[${index}]`
    const jwk = entry as JWK
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) { problems.push(`${at}: must be a JWK object`); continue }
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') { problems.push(`${at}.kty: must be RSA, EC or OKP (Ed25519)`); continue }
    const encryption = jwk.use === 'enc'
    if (jwk.d === undefined) { problems.push(`${at}.d: a private key is required to ${encryption ? 'decrypt' : 'sign'}`); continue }
    if (jwk.use !== undefined && jwk.use !== 'sig' && !encryption) { problems.push(`${at}.use: must be "sig" (signs responses) or "enc" (decrypts request objects)`); continue }
    let alg: AsymmetricAlg | DecryptionAlg
    if (encryption) {
      const found = decryptionAlgorithm(jwk, at)
      if ('problem' in found) { problems.push(found.problem); continue }
      alg = found.alg
    } else {
      const fits = algorithmsFor(jwk)
      if (fits.length === 0) { problems.push(`${at}.crv: must be P-256, P-384, P-521 or Ed25519`); continue }
      alg = (jwk.alg ?? defaultAlgorithm(jwk)) as AsymmetricAlg
      if (!fits.includes(alg)) { problems.push(`${at}.alg: ${String(jwk.alg)} cannot be used with this key; expected one of ${fits.join(', ')}`); continue }
    }
    if (jwk.kty === 'RSA' && Buffer.from(jwk.n ?? '', 'base64url').length * 8 < MIN_RSA_BITS) {
      problems.push(`${at}.n: RSA keys must be at least ${MIN_RSA_BITS} bits`)
      continue
    }
    let kid: string
    try {
      kid = jwk.kid ?? await calculateJwkThumbprint(jwk, 'sha256')
      if (kids.has(kid)) { problems.push(`${at}.kid: duplicate kid "${kid}"; every key needs its own`); continue }
      kids.add(kid)
      if (encryption) decryptionKeys.push(toDecryptionKey(jwk, kid, alg as DecryptionAlg))
      else keys.push(await toSigningKey(jwk, kid, alg as AsymmetricAlg, false))
    } catch (error) {
      problems.push(`${at}: not a usable private key (${(error as Error).message})`)
    }
  }
  return { keys, decryptionKeys, problems }
}

function toDecryptionKey (jwk: JWK, kid: string, alg: DecryptionAlg): DecryptionKey {
  const { privateKey, publicMembers } = importPrivate(jwk)
  return Object.freeze({ kid, alg, privateKey, publicJwk: Object.freeze({ ...publicMembers, kid, use: 'enc', alg }) })
}

/** A fresh key for an algorithm no configured key serves, when no keys are configured at all. */
export async function generateSigningKey (alg: AsymmetricAlg): Promise<SigningKey> {
  const jwk = await generatePrivateJwk(alg)
  return toSigningKey(jwk, await calculateJwkThumbprint(jwk, 'sha256'), alg, true)
}

/** A private JWK for `alg` (also used by the CLI's --generate-key). */
export async function generatePrivateJwk (alg: AsymmetricAlg): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: MIN_RSA_BITS, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  const jwk = await exportJWK(privateKey)
  return { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), use: 'sig', alg }
}

/** The keys by algorithm: the first key listed for an algorithm signs. */
export class KeyRing {
  readonly keys: readonly SigningKey[]
  /** Never sign; published beside the signing keys so clients can encrypt request objects to the gateway. */
  readonly decryptionKeys: readonly DecryptionKey[]
  readonly #byAlg = new Map<AsymmetricAlg, SigningKey>()

  constructor (keys: readonly SigningKey[], decryptionKeys: readonly DecryptionKey[] = []) {
    this.keys = Object.freeze([...keys])
    this.decryptionKeys = Object.freeze([...decryptionKeys])
    for (const key of keys) if (!this.#byAlg.has(key.alg)) this.#byAlg.set(key.alg, key)
  }

  /** `request_object_encryption_alg_values_supported`: one entry per algorithm some decryption key serves. */
  get requestObjectEncryptionAlgs (): DecryptionAlg[] {
    return [...new Set(this.decryptionKeys.map((key) => key.alg))]
  }

  /** `request_object_encryption_enc_values_supported`: none without a decryption key. */
  get requestObjectEncryptionEncs (): EncryptionEnc[] {
    return this.decryptionKeys.length === 0 ? [] : [...REQUEST_OBJECT_ENCRYPTION_ENCS]
  }

  keyFor (alg: AsymmetricAlg): SigningKey | undefined {
    return this.#byAlg.get(alg)
  }

  get algorithms (): AsymmetricAlg[] {
    return [...this.#byAlg.keys()]
  }

  get publicJwks (): ReadonlyArray<Readonly<JWK>> {
    return [...this.keys, ...this.decryptionKeys].map((key) => key.publicJwk)
  }
}
