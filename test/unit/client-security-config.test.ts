// The per-client response security settings at config load: alg none refused with its reason,
// encryption settings checked (every problem with its path), defaults, the unlisted-client policy.
import t from 'tap'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { buildConfig, ConfigError } from '../../src/config/load-config.js'

const BASE = { upstream: { url: 'http://127.0.0.1:9000' }, state: { secrets: ['a-test-secret-for-sealing-flow-state-0123456789'] } }
const SECRET = 'a-client-secret-that-is-long-enough-0123456789'

function publicJwk (type: 'rsa' | 'ec' | 'x25519' | 'ed25519', options: Record<string, unknown> = {}): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync(type as 'rsa', { modulusLength: 2048, namedCurve: 'P-256', ...options } as never) as unknown as { publicKey: KeyObject }
  return publicKey.export({ format: 'jwk' }) as Record<string, unknown>
}

async function problemsOf (input: unknown): Promise<readonly string[]> {
  try {
    await buildConfig(input, process.cwd())
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('the configuration was accepted')
}

t.test('alg none is refused naming the client and why, beside the other problems', async (t) => {
  const problems = await problemsOf({
    ...BASE,
    default_signed_response_alg: 'none',
    clients: { app1: { authorization_signed_response_alg: 'none' }, app2: { authorization_signed_response_alg: 'XS256' } },
  })
  t.same(problems, [
    'default_signed_response_alg: is "none", which is refused: an unsigned response can be forged by anyone who can send the browser to the redirect_uri (JARM §2.2 requires a signature); choose an algorithm such as RS256, PS256, ES256 or EdDSA',
    'clients.app1.authorization_signed_response_alg: client app1 is "none", which is refused: an unsigned response can be forged by anyone who can send the browser to the redirect_uri (JARM §2.2 requires a signature); choose an algorithm such as RS256, PS256, ES256 or EdDSA',
    'clients.app2.authorization_signed_response_alg: must be one of "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"',
  ])
})

t.test('configs that are not objects, or clients that are not, get the schema messages only', async (t) => {
  t.same(await problemsOf('not an object'), ['(root): must be object'])
  t.same(await problemsOf({ ...BASE, clients: 5 }), ['clients: must be object'])
})

t.test('encryption settings: every problem with its path', async (t) => {
  // Clients whose problems only the key checks find (after the schema stage has passed).
  const keyProblemClients = {
      encWithoutAlg: { authorization_encrypted_response_enc: 'A128GCM' },
      kwWithoutSecret: { authorization_encrypted_response_alg: 'A128KW' },
      dirWithBoth: { authorization_encrypted_response_alg: 'dir', client_secret: SECRET, jwks: { keys: [] }, jwks_uri: 'https://client.example.org/jwks' },
      remoteWithBoth: { authorization_encrypted_response_alg: 'RSA-OAEP', jwks: { keys: [] }, jwks_uri: 'https://client.example.org/jwks' },
      noKeys: { authorization_encrypted_response_alg: 'ECDH-ES' },
      rsaForEcdh: { authorization_encrypted_response_alg: 'ECDH-ES+A128KW', jwks: { keys: [publicJwk('rsa')] } },
      ecForRsa: { authorization_encrypted_response_alg: 'RSA-OAEP-256', jwks: { keys: [publicJwk('ec')] } },
      privateKey: { authorization_encrypted_response_alg: 'ECDH-ES', jwks: { keys: [{ ...publicJwk('ec'), d: 'AAAA' }, publicJwk('ec')] } },
  }
  const problems = await problemsOf({
    ...BASE,
    clients: {
      ...keyProblemClients,
      badUri: { authorization_encrypted_response_alg: 'RSA-OAEP', jwks_uri: 'ftp://client.example.org/jwks' },
      badAlg: { authorization_encrypted_response_alg: 'RSA1_5', jwks: { keys: [] } },
    },
  })
  t.same(problems, [
    'clients.badUri.jwks_uri: must match pattern "^https?://"',
    'clients.badAlg.authorization_encrypted_response_alg: must be one of "RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW", "A128KW", "A256KW", "dir"',
  ], 'the schema stage first: what it finds stops the load before the keys are looked at')
  const second = await problemsOf({ ...BASE, clients: keyProblemClients })
  t.same(second, [
    'clients.encWithoutAlg.authorization_encrypted_response_enc: is set without authorization_encrypted_response_alg (JARM §3: enc requires alg)',
    'clients.kwWithoutSecret.client_secret: is required for authorization_encrypted_response_alg A128KW (the key is derived from it)',
    'clients.dirWithBoth.jwks_uri: give either jwks or jwks_uri, not both',
    'clients.remoteWithBoth.jwks_uri: give either jwks or jwks_uri, not both',
    'clients.noKeys.jwks: a jwks or jwks_uri with the client\'s public key is required for authorization_encrypted_response_alg ECDH-ES',
    'clients.rsaForEcdh.jwks: holds no key for ECDH-ES+A128KW (needs an EC P-256/P-384/P-521 or OKP X25519 key with "use" absent or "enc" and "alg" absent or ECDH-ES+A128KW)',
    'clients.ecForRsa.jwks: holds no key for RSA-OAEP-256 (needs an RSA key of 2048+ bits with "use" absent or "enc" and "alg" absent or RSA-OAEP-256)',
    'clients.privateKey.jwks.keys[0].d: a client\'s private key must never be configured; give its public key only',
  ])
})

t.test('a sound encrypted client: alg, the default enc, and the recipient key with its kid', async (t) => {
  const config = await buildConfig({
    ...BASE,
    clients: {
      inline: { authorization_encrypted_response_alg: 'ECDH-ES', jwks: { keys: [{ ...publicJwk('x25519'), kid: 'x' }] } },
      secret: { authorization_encrypted_response_alg: 'A256KW', authorization_encrypted_response_enc: 'A256GCM', client_secret: SECRET },
      remote: { authorization_encrypted_response_alg: 'RSA-OAEP', jwks_uri: 'https://client.example.org/jwks' },
      plain: {},
    },
  }, process.cwd())
  const inline = config.clients.get('inline')!.encryption!
  t.equal(inline.alg, 'ECDH-ES')
  t.equal(inline.enc, 'A128CBC-HS256', 'JARM §3 default')
  t.equal((await inline.recipients.recipientFor('ECDH-ES')).kid, 'x')
  const secret = config.clients.get('secret')!.encryption!
  t.equal(secret.enc, 'A256GCM')
  t.equal(((await secret.recipients.recipientFor('A256KW')).key as Uint8Array).length, 32)
  t.equal(config.clients.get('remote')!.encryption!.alg, 'RSA-OAEP')
  t.equal(config.clients.get('plain')!.encryption, undefined)
  t.equal(config.unlistedClients, 'sign', 'unlisted clients are signed for by default')
})

t.test('unlisted_clients takes sign or refuse only', async (t) => {
  t.equal((await buildConfig({ ...BASE, unlisted_clients: 'refuse' }, process.cwd())).unlistedClients, 'refuse')
  t.same(await problemsOf({ ...BASE, unlisted_clients: 'allow' }), ['unlisted_clients: must be one of "sign", "refuse"'])
})

t.test('client_jwks_uri settings have defaults and limits', async (t) => {
  t.same(await problemsOf({ ...BASE, client_jwks_uri: { timeout_ms: 10, surprise: 1 } }), [
    'client_jwks_uri.surprise: is not a known setting',
    'client_jwks_uri.timeout_ms: must be >= 100',
  ])
})

t.test('client_secret length follows its use, counted in UTF-8 bytes (RFC 7518 §3.2)', async (t) => {
  const bytes = (n: number): string => 's'.repeat(n)
  const problems = await problemsOf({
    ...BASE,
    clients: {
      hs256Short: { authorization_signed_response_alg: 'HS256', client_secret: bytes(31) },
      hs384At32: { authorization_signed_response_alg: 'HS384', client_secret: bytes(32) },
      hs512At48: { authorization_signed_response_alg: 'HS512', client_secret: bytes(48) },
      // 31 characters, 62 bytes: bytes are what the HMAC key is made of.
      hs512Accents: { authorization_signed_response_alg: 'HS512', client_secret: 'é'.repeat(31) },
      hs512WithDir: { authorization_signed_response_alg: 'HS512', authorization_encrypted_response_alg: 'dir', client_secret: bytes(63) },
      kwShort: { authorization_encrypted_response_alg: 'A128KW', client_secret: bytes(31) },
      unused: { client_secret: bytes(10) },
      empty: { authorization_signed_response_alg: 'HS256', client_secret: '' },
    },
  })
  t.same(problems, [
    'clients.hs256Short.client_secret: is 31 bytes; authorization_signed_response_alg HS256 needs at least 32 bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)',
    'clients.hs384At32.client_secret: is 32 bytes; authorization_signed_response_alg HS384 needs at least 48 bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)',
    'clients.hs512At48.client_secret: is 48 bytes; authorization_signed_response_alg HS512 needs at least 64 bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)',
    'clients.hs512Accents.client_secret: is 62 bytes; authorization_signed_response_alg HS512 needs at least 64 bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)',
    'clients.hs512WithDir.client_secret: is 63 bytes; authorization_signed_response_alg HS512 needs at least 64 bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)',
    'clients.kwShort.client_secret: is 31 bytes; authorization_encrypted_response_alg A128KW needs at least 32 bytes (the encryption key is derived from it)',
    'clients.unused.client_secret: is 10 bytes; a client_secret needs at least 32 bytes',
    'clients.empty.client_secret: is 0 bytes; authorization_signed_response_alg HS256 needs at least 32 bytes (RFC 7518 §3.2: an HMAC key at least as long as the hash output)',
  ])
  t.notMatch(problems.join('\n'), /sssss|éé/, 'the secret itself is never quoted')

  const config = await buildConfig({
    ...BASE,
    clients: {
      hs256: { authorization_signed_response_alg: 'HS256', client_secret: bytes(32) },
      hs384: { authorization_signed_response_alg: 'HS384', client_secret: bytes(48) },
      hs512: { authorization_signed_response_alg: 'HS512', client_secret: bytes(64) },
      // 16 characters, 32 bytes: enough for HS256 (a character count would have refused it).
      hs256Accents: { authorization_signed_response_alg: 'HS256', client_secret: 'é'.repeat(16) },
      hs512WithKw: { authorization_signed_response_alg: 'HS512', authorization_encrypted_response_alg: 'A256KW', client_secret: bytes(64) },
      // Encryption keeps its own rule: 32 bytes, whatever the (asymmetric) signing algorithm.
      rsWithKw: { authorization_signed_response_alg: 'RS256', authorization_encrypted_response_alg: 'A256KW', client_secret: bytes(32) },
      rsWithDir: { authorization_encrypted_response_alg: 'dir', authorization_encrypted_response_enc: 'A256CBC-HS512', client_secret: bytes(32) },
    },
  }, process.cwd())
  t.same([...config.clients.keys()], ['hs256', 'hs384', 'hs512', 'hs256Accents', 'hs512WithKw', 'rsWithKw', 'rsWithDir'])
})
