// What encryption adds to a JARM response, per family: the gateway's own ResponseTokenFactory,
// one core, sequential. Run: node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/response-encryption-cost.ts
import { exportJWK, generateKeyPair } from 'jose'
import { buildConfig } from '../src/config/load-config.js'
import { ResponseTokenFactory } from '../src/jarm/response-token.js'
import { generatePrivateJwk } from '../src/keys/signing-keys.js'

const SECRET = 'a-client-secret-that-is-long-enough-0123456789'
async function publicJwk (alg: string, crv?: string): Promise<Record<string, unknown>> {
  const { publicKey } = await generateKeyPair(alg, { extractable: true, ...(crv !== undefined ? { crv } : {}) })
  return { ...await exportJWK(publicKey), kid: alg }
}
const clients: Record<string, unknown> = {
  plain: { authorization_signed_response_alg: 'ES256' },
  'RSA-OAEP-256': { authorization_signed_response_alg: 'ES256', authorization_encrypted_response_alg: 'RSA-OAEP-256', jwks: { keys: [await publicJwk('RSA-OAEP-256')] } },
  'ECDH-ES P-256': { authorization_signed_response_alg: 'ES256', authorization_encrypted_response_alg: 'ECDH-ES', jwks: { keys: [await publicJwk('ECDH-ES', 'P-256')] } },
  'ECDH-ES+A128KW X25519': { authorization_signed_response_alg: 'ES256', authorization_encrypted_response_alg: 'ECDH-ES+A128KW', jwks: { keys: [await publicJwk('ECDH-ES+A128KW', 'X25519')] } },
  A128KW: { authorization_signed_response_alg: 'ES256', authorization_encrypted_response_alg: 'A128KW', client_secret: SECRET },
  dir: { authorization_signed_response_alg: 'ES256', authorization_encrypted_response_alg: 'dir', client_secret: SECRET },
}
const config = await buildConfig({ upstream: { url: 'http://127.0.0.1:9000' }, keys: { keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('RS256')] }, clients, state: { secrets: [SECRET] } }, process.cwd())
const factory = new ResponseTokenFactory(config)
const parameters = [['code', 'x'.repeat(43)], ['session_state', 'y'.repeat(60)]] as const
const N = 2000
for (const clientId of Object.keys(clients)) {
  const input = { issuer: 'https://id.example.com', clientId, state: 'z'.repeat(43), parameters }
  for (let i = 0; i < 200; i++) await factory.createResponse(input)
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) await factory.createResponse(input)
  const us = Number(process.hrtime.bigint() - start) / 1000 / N
  console.log(`${clientId.padEnd(24)} ${us.toFixed(0).padStart(6)} µs per response (ES256 signature included)`)
}
