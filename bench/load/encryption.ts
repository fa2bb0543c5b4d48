/**
 * Case (g): a client whose responses are signed (ES256) and then encrypted to its RSA key
 * (RSA-OAEP / A128CBC-HS256), measured through the gateway exactly like case (e).
 */
import { exportJWK, generateKeyPair, type JWK } from 'jose'

export const ENCRYPTION_ALG = 'RSA-OAEP'
export const ENCRYPTION_ENC = 'A128CBC-HS256'

/** The gateway's client entry for (g). */
export function encryptedClientConfig (publicJwk: JWK): Record<string, unknown> {
  return {
    authorization_signed_response_alg: 'ES256',
    authorization_encrypted_response_alg: ENCRYPTION_ALG,
    authorization_encrypted_response_enc: ENCRYPTION_ENC,
    jwks: { keys: [publicJwk] },
  }
}

/** A client's encryption key pair; the public half is what the client registers. */
export async function clientEncryptionKey (): Promise<{ publicJwk: JWK }> {
  const { publicKey } = await generateKeyPair(ENCRYPTION_ALG, { modulusLength: 2048, extractable: true })
  return { publicJwk: { ...await exportJWK(publicKey), kid: 'client-enc-1', use: 'enc', alg: ENCRYPTION_ALG } }
}
