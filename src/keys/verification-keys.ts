/**
 * A client's public signature keys, as the checks of what a client signs need them: its request
 * objects (RFC 9101 §6.2) and its `private_key_jwt` client assertions (RFC 7523 §3). Implemented over
 * an inline `jwks` or a fetched `jwks_uri` by src/keys/client-keys.ts.
 */
import type { KeyObject } from 'node:crypto'

export interface VerificationKeySource {
  /**
   * The keys that may have made a signature with `alg` (and `kid` when the JWS header names one):
   * `use` absent or "sig", `alg` absent or equal, a key type and size fit for `alg`. A remote set is
   * fetched again (rate-limited) when none fits, so a client that rotated its keys is not refused.
   * Empty when none fits; throws GatewayError only when the keys cannot be had at all.
   */
  verificationKeys (alg: string, kid: string | undefined): Promise<readonly KeyObject[]>
}
