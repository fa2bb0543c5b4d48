/**
 * Case (g), JARM with encryption (sign, then encrypt to the client's key: JARM §2.3, nested JWT).
 *
 * Encryption is being built on another branch (issue-3). Until it is merged this measures a
 * stand-in at the module level: the gateway's own ES256 signer (src/jarm/sign-jwt.ts, the key
 * imported once) against the same signature followed by jose `CompactEncrypt` with RSA-OAEP /
 * A128CBC-HS256 to a 2048-bit client key, imported once. The extra CPU per response is then added to
 * the measured ES256 gateway cost to estimate g/d (the table says "estimate").
 *
 * THE HOOK: once the gateway encrypts, make `encryptedClientConfig` return the client entry that
 * turns encryption on (for a client signing with ES256 and encrypting with RSA-OAEP /
 * A128CBC-HS256 to `publicJwk`, in whatever names the merged schema uses). The bench then adds that
 * client (`enc`) to the gateway and measures (g) end to end exactly like (e), instead of this
 * stand-in.
 */
import { CompactEncrypt, exportJWK, generateKeyPair, type JWK } from 'jose'
import { signJwt } from '../../src/jarm/sign-jwt.js'
import { generateSigningKey } from '../../src/keys/signing-keys.js'

export const ENCRYPTION_ALG = 'RSA-OAEP'
export const ENCRYPTION_ENC = 'A128CBC-HS256'

/** See THE HOOK above: undefined while the gateway cannot encrypt. */
export function encryptedClientConfig (publicJwk: JWK): Record<string, unknown> | undefined {
  void publicJwk
  return undefined
}

/** A client's encryption key pair (the public half is what a client registers). */
type PublicKey = Awaited<ReturnType<typeof generateKeyPair>>['publicKey']

export async function clientEncryptionKey (): Promise<{ publicJwk: JWK, publicKey: PublicKey }> {
  const { publicKey } = await generateKeyPair(ENCRYPTION_ALG, { modulusLength: 2048, extractable: true })
  return { publicJwk: { ...await exportJWK(publicKey), kid: 'client-enc-1', use: 'enc', alg: ENCRYPTION_ALG }, publicKey }
}

export interface StandInResult {
  /** CPU microseconds per token: the ES256 signature alone, and signature + encryption. */
  readonly signUs: number
  readonly signEncryptUs: number
}

function cpuMicros (): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

/** Module-level CPU cost of one response token, signed only and signed then encrypted. */
export async function measureStandIn (iterations: number): Promise<StandInResult> {
  const key = await generateSigningKey('ES256')
  const { publicKey } = await clientEncryptionKey()
  const claims = { iss: 'http://127.0.0.1', aud: 'es', exp: 2_000_000_000, iat: 1_999_999_880, code: 'bench-code-0123456789abcdefghijklmnopqrstuvwxyz', state: 'q7K1xMuVnJ9Y2pRwA3sTfLhE0cGdZb5oNiW8kXyU4vQ' }
  const header = { alg: key.alg, kid: key.kid }
  const encoder = new TextEncoder()
  const encrypt = (jwt: string): Promise<string> => new CompactEncrypt(encoder.encode(jwt))
    .setProtectedHeader({ alg: ENCRYPTION_ALG, enc: ENCRYPTION_ENC, cty: 'JWT', kid: 'client-enc-1' })
    .encrypt(publicKey)
  // warm up both paths
  for (let i = 0; i < Math.min(200, iterations); i++) await encrypt(signJwt(header, claims, key.signer))
  let start = cpuMicros()
  for (let i = 0; i < iterations; i++) signJwt(header, claims, key.signer)
  const signUs = (cpuMicros() - start) / iterations
  start = cpuMicros()
  for (let i = 0; i < iterations; i++) await encrypt(signJwt(header, claims, key.signer))
  const signEncryptUs = (cpuMicros() - start) / iterations
  return { signUs, signEncryptUs }
}
