/**
 * JWS compact serialisation (RFC 7515 §7.1) with node:crypto and keys imported once at start-up.
 * jose v6 signs through WebCrypto's asynchronous path at several times the cost of a synchronous
 * `sign()` with a KeyObject, and the signature is the floor of every JARM response. jose still
 * loads and checks the keys (src/keys) and every test verifies these tokens with independent code.
 */
import { createHmac, constants, sign, type KeyObject } from 'node:crypto'

export type AsymmetricAlg =
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA'
export type SymmetricAlg = 'HS256' | 'HS384' | 'HS512'
export type SigningAlg = AsymmetricAlg | SymmetricAlg

export const ASYMMETRIC_ALGS: readonly AsymmetricAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
export const SYMMETRIC_ALGS: readonly SymmetricAlg[] = ['HS256', 'HS384', 'HS512']

/** Signs the JWS signing input; made once per key and algorithm. */
export type Signer = (signingInput: Buffer) => Buffer

function hashOf (alg: SigningAlg): string {
  return `sha${alg.slice(2)}`
}

export function asymmetricSigner (alg: AsymmetricAlg, key: KeyObject): Signer {
  switch (alg.slice(0, 2)) {
    case 'RS':
      return (input) => sign(hashOf(alg), input, key)
    case 'PS':
      return (input) => sign(hashOf(alg), input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
    case 'ES':
      return (input) => sign(hashOf(alg), input, { key, dsaEncoding: 'ieee-p1363' })
    default: // EdDSA: the curve fixes the hash
      return (input) => sign(null, input, key)
  }
}

export function symmetricSigner (alg: SymmetricAlg, secret: Buffer): Signer {
  const hash = hashOf(alg)
  return (input) => createHmac(hash, secret).update(input).digest()
}

export interface JwsHeader { readonly alg: SigningAlg, readonly kid?: string, readonly typ?: string }

/** Encoded once per header object: the gateway makes its headers at start-up and reuses them. */
const encodedHeaders = new WeakMap<JwsHeader, string>()

export function signJwt (header: JwsHeader, claims: object, signer: Signer): string {
  let encodedHeader = encodedHeaders.get(header)
  if (encodedHeader === undefined) {
    encodedHeader = Buffer.from(JSON.stringify(header)).toString('base64url')
    encodedHeaders.set(header, encodedHeader)
  }
  const signingInput = `${encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  // The signing input is base64url, ASCII: latin1 is the same bytes, read without UTF-8 decoding.
  return `${signingInput}.${signer(Buffer.from(signingInput, 'latin1')).toString('base64url')}`
}
