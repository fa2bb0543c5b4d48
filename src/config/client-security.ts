/**
 * The per-client response security settings that a JSON Schema cannot check on its own: refusing
 * `alg: none` with a reason, and turning `authorization_encrypted_response_alg` / `_enc` with `jwks`,
 * `jwks_uri` or `client_secret` into the source of the key each response is encrypted to. Every
 * problem is reported with its path, like the rest of the config.
 */
import { DEFAULT_ENCRYPTION_ENC, isSecretEncryptionAlg, secretDerivedKey, type EncryptionAlg, type EncryptionEnc } from '../jarm/encrypt-response.js'
import { fixedRecipient, importClientJwks, RemoteClientKeys, selectEncryptionKey, type RecipientSource, type RemoteKeyOptions } from '../keys/client-keys.js'
import type { SigningAlg, SymmetricAlg } from '../jarm/sign-jwt.js'

export interface ClientEncryption {
  readonly alg: EncryptionAlg
  readonly enc: EncryptionEnc
  readonly recipients: RecipientSource
}

export interface RawClientSecurity {
  client_secret?: string
  authorization_encrypted_response_alg?: EncryptionAlg
  authorization_encrypted_response_enc?: EncryptionEnc
  jwks?: { keys: unknown[] }
  jwks_uri?: string
}

/**
 * RFC 7518 §3.2: "A key of the same size as the hash output (for instance, 256 bits for HS256) or
 * larger MUST be used". The HMAC key is the client_secret's UTF-8 octets, so bytes are counted.
 */
export const HMAC_SECRET_MIN_BYTES: Readonly<Record<SymmetricAlg, number>> = { HS256: 32, HS384: 48, HS512: 64 }
/**
 * The least a client_secret may be for anything else: secret-derived encryption (A128KW, A256KW,
 * dir hash the secret into their key, so it bounds the key's strength) or no use at all. 32 bytes
 * (256 bits) is at least every derived key-wrapping key and the floor the setting always had.
 */
export const CLIENT_SECRET_MIN_BYTES = 32

/**
 * A client_secret too short for what it keys, or undefined. The strictest use is named with how many
 * bytes it needs: an HS* algorithm when the client signs with one (its minimum is never below the
 * 32 bytes of the other uses), else secret-derived encryption, else the floor. The secret is never quoted.
 */
export function clientSecretProblem (clientId: string, secret: string | undefined, signingAlg: SigningAlg, encryptionAlg: EncryptionAlg | undefined, clientsAt = 'clients'): string | undefined {
  if (secret === undefined) return undefined
  const hmacBytes = (HMAC_SECRET_MIN_BYTES as Partial<Record<SigningAlg, number>>)[signingAlg]
  const needs = hmacBytes ?? CLIENT_SECRET_MIN_BYTES
  const length = Buffer.byteLength(secret, 'utf8')
  if (length >= needs) return undefined
  const use = hmacBytes !== undefined
    ? `authorization_signed_response_alg ${signingAlg} needs at least ${needs} bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)`
    : encryptionAlg !== undefined && isSecretEncryptionAlg(encryptionAlg)
      ? `authorization_encrypted_response_alg ${encryptionAlg} needs at least ${needs} bytes (the encryption key is derived from it)`
      : `a client_secret needs at least ${needs} bytes`
  return `${clientsAt}.${clientId}.client_secret: is ${length} bytes; ${use}`
}

const NONE_REASON = 'is "none", which is refused: an unsigned response can be forged by anyone who can send the browser to the redirect_uri (JARM §2.2 requires a signature); choose an algorithm such as RS256, PS256, ES256 or EdDSA'

/**
 * `alg: none` named with its client and the reason, checked before the schema (whose enum would only
 * say "must be one of"). Returns the paths it reported, so the schema's line for them can be dropped.
 */
export function refusedAlgorithms (input: unknown): Map<string, string> {
  const problems = new Map<string, string>()
  if (typeof input !== 'object' || input === null) return problems
  const config = input as { clients?: unknown, issuers?: unknown, default_signed_response_alg?: unknown }
  if (config.default_signed_response_alg === 'none') problems.set('default_signed_response_alg', `default_signed_response_alg: ${NONE_REASON}`)
  const refuseIn = (clients: unknown, at: string): void => {
    if (typeof clients !== 'object' || clients === null) return
    for (const [clientId, client] of Object.entries(clients)) {
      if ((client as { authorization_signed_response_alg?: unknown } | null)?.authorization_signed_response_alg === 'none') {
        const path = `${at}.${clientId}.authorization_signed_response_alg`
        problems.set(path, `${path}: client ${clientId} ${NONE_REASON}`)
      }
    }
  }
  refuseIn(config.clients, 'clients')
  if (Array.isArray(config.issuers)) config.issuers.forEach((entry: unknown, index) => refuseIn((entry as { clients?: unknown } | null)?.clients, `issuers[${index}].clients`))
  return problems
}

/** The client's encryption settings, or the problems that prevent them. */
export function clientEncryption (clientId: string, raw: RawClientSecurity, remote: RemoteKeyOptions, clientsAt = 'clients'): { encryption?: ClientEncryption, problems: string[] } {
  const at = `${clientsAt}.${clientId}`
  const alg = raw.authorization_encrypted_response_alg
  const problems: string[] = []
  if (raw.jwks !== undefined && raw.jwks_uri !== undefined) problems.push(`${at}.jwks_uri: give either jwks or jwks_uri, not both`)
  if (alg === undefined) {
    if (raw.authorization_encrypted_response_enc !== undefined) {
      problems.push(`${at}.authorization_encrypted_response_enc: is set without authorization_encrypted_response_alg (JARM §3: enc requires alg)`)
    }
    return { problems }
  }
  const enc = raw.authorization_encrypted_response_enc ?? DEFAULT_ENCRYPTION_ENC
  if (isSecretEncryptionAlg(alg)) {
    if (raw.client_secret === undefined) {
      problems.push(`${at}.client_secret: is required for authorization_encrypted_response_alg ${alg} (the key is derived from it)`)
      return { problems }
    }
    const key = secretDerivedKey(raw.client_secret, alg as 'A128KW' | 'A256KW' | 'dir', enc)
    return problems.length > 0 ? { problems } : { encryption: Object.freeze({ alg, enc, recipients: fixedRecipient({ key }) }), problems }
  }
  if (raw.jwks_uri !== undefined) {
    return problems.length > 0 ? { problems } : { encryption: Object.freeze({ alg, enc, recipients: new RemoteClientKeys(clientId, raw.jwks_uri, remote) }), problems }
  }
  if (raw.jwks === undefined) {
    problems.push(`${at}.jwks: a jwks or jwks_uri with the client's public key is required for authorization_encrypted_response_alg ${alg}`)
    return { problems }
  }
  const imported = importClientJwks(raw.jwks, `${at}.jwks`)
  problems.push(...imported.problems)
  const key = selectEncryptionKey(imported.keys, alg)
  if (key === undefined && imported.problems.length === 0) {
    problems.push(`${at}.jwks: holds no key for ${alg} (needs ${alg.startsWith('RSA') ? 'an RSA key of 2048+ bits' : 'an EC P-256/P-384/P-521 or OKP X25519 key'} with "use" absent or "enc" and "alg" absent or ${alg})`)
  }
  if (key === undefined || problems.length > 0) return { problems }
  return { encryption: Object.freeze({ alg, enc, recipients: fixedRecipient({ key: key.key, kid: key.kid }) }), problems }
}
