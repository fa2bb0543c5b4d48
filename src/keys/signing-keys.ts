/**
 * The gateway's signing keys: loaded and checked once (jose for the RFC 7638 thumbprint and key
 * generation), imported as KeyObjects once, published as public JWKs with kid, use and alg.
 *
 * Which key signs: each key serves exactly one algorithm (its JWK `alg`, or the usual one for its
 * type: RS256 for RSA, ES256/384/512 by curve, EdDSA for Ed25519). Where several keys serve the same
 * algorithm, the first one listed signs, so rotation is: add the new key first, keep the old one
 * published until its last response has expired, then remove it.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import { ASYMMETRIC_ALGS, asymmetricSigner, type AsymmetricAlg, type Signer } from '../jarm/sign-jwt.js'

const MIN_RSA_BITS = 2048
const CURVE_ALGS: Readonly<Record<string, AsymmetricAlg>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', Ed25519: 'EdDSA' }

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

async function toSigningKey (jwk: JWK, kid: string, alg: AsymmetricAlg, ephemeral: boolean): Promise<SigningKey> {
  const privateKey: KeyObject = createPrivateKey({ key: jwk as NodeJwk, format: 'jwk' })
  const { kty, crv, n, e, x, y } = createPublicKey(privateKey).export({ format: 'jwk' })
  const publicJwk: JWK = Object.fromEntries(Object.entries({ kty, crv, n, e, x, y }).filter(([, v]) => v !== undefined))
  return Object.freeze({ kid, alg, signer: asymmetricSigner(alg, privateKey), publicJwk: Object.freeze({ ...publicJwk, kid, use: 'sig', alg }), ephemeral })
}

/**
 * Loads a JWKS of private keys. Every problem is reported with its path (`keys.keys[1].kid`), not
 * just the first, so an operator fixes the file in one go.
 */
export async function loadSigningKeys (jwks: unknown, path: string): Promise<{ keys: SigningKey[], problems: string[] }> {
  const problems: string[] = []
  const keys: SigningKey[] = []
  const list = (jwks as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) return { keys, problems: [`${path}: must be a JWKS, an object with a "keys" array`] }
  const kids = new Set<string>()
  for (const [index, entry] of list.entries()) {
    const at = `${path}.keys[${index}]`
    const jwk = entry as JWK
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) { problems.push(`${at}: must be a JWK object`); continue }
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') { problems.push(`${at}.kty: must be RSA, EC or OKP (Ed25519)`); continue }
    if (jwk.d === undefined) { problems.push(`${at}.d: a private key is required to sign`); continue }
    if (jwk.use !== undefined && jwk.use !== 'sig') { problems.push(`${at}.use: must be "sig" (these keys sign responses)`); continue }
    const fits = algorithmsFor(jwk)
    if (fits.length === 0) { problems.push(`${at}.crv: must be P-256, P-384, P-521 or Ed25519`); continue }
    const alg = (jwk.alg ?? defaultAlgorithm(jwk)) as AsymmetricAlg
    if (!fits.includes(alg)) { problems.push(`${at}.alg: ${String(jwk.alg)} cannot be used with this key; expected one of ${fits.join(', ')}`); continue }
    if (jwk.kty === 'RSA' && Buffer.from(jwk.n ?? '', 'base64url').length * 8 < MIN_RSA_BITS) {
      problems.push(`${at}.n: RSA keys must be at least ${MIN_RSA_BITS} bits`)
      continue
    }
    let kid: string
    try {
      kid = jwk.kid ?? await calculateJwkThumbprint(jwk, 'sha256')
      if (kids.has(kid)) { problems.push(`${at}.kid: duplicate kid "${kid}"; every key needs its own`); continue }
      kids.add(kid)
      keys.push(await toSigningKey(jwk, kid, alg, false))
    } catch (error) {
      problems.push(`${at}: not a usable private key (${(error as Error).message})`)
    }
  }
  return { keys, problems }
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
  readonly #byAlg = new Map<AsymmetricAlg, SigningKey>()

  constructor (keys: readonly SigningKey[]) {
    this.keys = Object.freeze([...keys])
    for (const key of keys) if (!this.#byAlg.has(key.alg)) this.#byAlg.set(key.alg, key)
  }

  keyFor (alg: AsymmetricAlg): SigningKey | undefined {
    return this.#byAlg.get(alg)
  }

  get algorithms (): AsymmetricAlg[] {
    return [...this.#byAlg.keys()]
  }

  get publicJwks (): ReadonlyArray<Readonly<JWK>> {
    return this.keys.map((key) => key.publicJwk)
  }
}
