/**
 * Nested JARM responses (JARM §2.3, §4): the signed response JWT, encrypted to the client as a JWE
 * (RFC 7516 compact serialisation) with `cty: "JWT"` and the recipient key's `kid`. Sign first, then
 * encrypt, as JARM and OpenID Connect Core §16.14 require. Knows nothing of redirects or HTML.
 *
 * Keys from the client secret (A128KW, A256KW, dir) follow the OpenID Connect Core §10.2 convention as
 * oidc-provider implements it (lib/models/client.js, deriveEncryptionKey): the SHA-256 digest of the
 * secret's UTF-8 bytes, truncated to the key length; SHA-384 for lengths up to 48 bytes and SHA-512
 * up to 64 (dir with A192CBC-HS384 and A256CBC-HS512). Any verifier following the convention
 * derives the same key.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { CompactEncrypt } from 'jose'

export const ENCRYPTION_ALGS = ['RSA-OAEP', 'RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW', 'A128KW', 'A256KW', 'dir'] as const
export type EncryptionAlg = typeof ENCRYPTION_ALGS[number]
export const ENCRYPTION_ENCS = ['A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512', 'A128GCM', 'A192GCM', 'A256GCM'] as const
export type EncryptionEnc = typeof ENCRYPTION_ENCS[number]
/** JARM §3: authorization_encrypted_response_enc defaults to A128CBC-HS256 when only alg is set. */
export const DEFAULT_ENCRYPTION_ENC: EncryptionEnc = 'A128CBC-HS256'
/** Algorithms keyed from the client_secret; every other one encrypts to a public key of the client. */
export const SECRET_ENCRYPTION_ALGS: readonly EncryptionAlg[] = ['A128KW', 'A256KW', 'dir']

export function isSecretEncryptionAlg (alg: EncryptionAlg): boolean {
  return SECRET_ENCRYPTION_ALGS.includes(alg)
}

/** Key length in bytes of a content encryption algorithm (the CBC-HS ones carry a MAC key too). */
function encKeyBytes (enc: EncryptionEnc): number {
  const cbc = /^A\d{3}CBC-HS(\d{3})$/.exec(enc)
  return Number(cbc === null ? enc.slice(1, 4) : cbc[1]) / 8
}

/** The symmetric key a client_secret gives for `alg` (and `enc`, for dir). */
export function secretDerivedKey (secret: string, alg: 'A128KW' | 'A256KW' | 'dir', enc: EncryptionEnc): Uint8Array {
  const length = alg === 'dir' ? encKeyBytes(enc) : Number(alg.slice(1, 4)) / 8
  const digest = length <= 32 ? 'sha256' : length <= 48 ? 'sha384' : 'sha512'
  return new Uint8Array(createHash(digest).update(secret, 'utf8').digest().subarray(0, length))
}

/** Who a response is encrypted to: a client public key (with its kid, when it has one) or a secret-derived key. */
export interface EncryptionRecipient {
  readonly key: KeyObject | Uint8Array
  readonly kid?: string | undefined
}

const encoder = new TextEncoder()

/** The nested JWT: `jws` encrypted with `alg`/`enc` to `recipient`. */
export async function encryptResponse (jws: string, alg: EncryptionAlg, enc: EncryptionEnc, recipient: EncryptionRecipient): Promise<string> {
  const header = { alg, enc, cty: 'JWT', ...(recipient.kid !== undefined ? { kid: recipient.kid } : {}) }
  return new CompactEncrypt(encoder.encode(jws)).setProtectedHeader(header).encrypt(recipient.key)
}
