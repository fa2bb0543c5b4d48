// The clients' public encryption keys: which key fits which algorithm, what a JWKS may hold, and a
// jwks_uri fetched with a timeout and a size limit, cached, and fetched again at most at a set rate.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { importClientJwks, RemoteClientKeys, selectEncryptionKey } from '../../src/keys/client-keys.js'
import { startJwksServer } from '../helpers/response-security.js'

function jwkOf (type: string, options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync(type as 'rsa', options as never) as unknown as { publicKey: KeyObject }
  return { ...publicKey.export({ format: 'jwk' }), ...extra }
}

const rsa = jwkOf('rsa', { modulusLength: 2048 }, { kid: 'rsa' })
const rsaSmall = jwkOf('rsa', { modulusLength: 1024 }, { kid: 'rsa-1024' })
const p256 = jwkOf('ec', { namedCurve: 'P-256' }, { kid: 'p256' })
const p384 = jwkOf('ec', { namedCurve: 'P-384' }, { kid: 'p384', use: 'enc', alg: 'ECDH-ES+A128KW' })
const x25519 = jwkOf('x25519', {}, { kid: 'x25519' })
const ed25519 = jwkOf('ed25519', {}, { kid: 'ed25519' })
const secp256k1 = jwkOf('ec', { namedCurve: 'secp256k1' }, { kid: 'k1' })

t.test('a JWKS is read key by key; what cannot be used is named with its path', async (t) => {
  t.same(importClientJwks([], 'jwks').problems, ['jwks: must be a JWKS, an object with a "keys" array'])
  const { keys, problems } = importClientJwks({ keys: [rsa, 'text', [1], { kty: 'oct', k: 'AAAA' }, { ...p256, d: 'AAAA' }, { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }, p256] }, 'clients.a.jwks')
  t.same(keys.map((key) => key.kid), ['rsa', 'p256'])
  t.same(problems.slice(0, 4), [
    'clients.a.jwks.keys[1]: must be a JWK object',
    'clients.a.jwks.keys[2]: must be a JWK object',
    'clients.a.jwks.keys[3].kty: must be RSA, EC or OKP (public keys only)',
    'clients.a.jwks.keys[4].d: a client\'s private key must never be configured; give its public key only',
  ])
  t.match(problems[4], /^clients\.a\.jwks\.keys\[5\]: not a usable public key \(/)
  t.equal(problems.length, 5)
})

t.test('which key fits which algorithm: use, alg, type, curve and size', async (t) => {
  const { keys } = importClientJwks({ keys: [{ ...rsa, use: 'sig', kid: 'rsa-sig' }, rsaSmall, { ...rsa, alg: 'RSA-OAEP', kid: 'rsa-oaep-only' }, rsa, ed25519, secp256k1, p256, p384, x25519] }, 'jwks')
  t.equal(selectEncryptionKey(keys, 'RSA-OAEP')?.kid, 'rsa-oaep-only', 'a signing key and a small RSA key are skipped')
  t.equal(selectEncryptionKey(keys, 'RSA-OAEP-256')?.kid, 'rsa', 'a key with another alg is skipped')
  t.equal(selectEncryptionKey(keys, 'ECDH-ES')?.kid, 'p256', 'Ed25519 and secp256k1 do not do ECDH-ES')
  t.equal(selectEncryptionKey(keys, 'ECDH-ES+A128KW')?.kid, 'p256', 'the first key that fits')
  t.equal(selectEncryptionKey([keys[7]!, keys[8]!], 'ECDH-ES+A256KW')?.kid, 'x25519', 'p384 is marked for ECDH-ES+A128KW only')
  t.equal(selectEncryptionKey([keys[1]!], 'RSA-OAEP'), undefined, 'RSA under 2048 bits never')
})

const OPTIONS = { timeoutMs: 2000, maxBytes: 4096, cacheMs: 300_000, minRefetchMs: 60_000 }

t.test('a jwks_uri: fetched once, cached, fetched again for a missing key at most once per interval', async (t) => {
  const server = await startJwksServer({ keys: [p256] })
  t.teardown(() => server.close())
  let now = 1_000_000
  const keys = new RemoteClientKeys('c1', server.url, OPTIONS, () => now)
  t.equal((await keys.recipientFor('ECDH-ES')).kid, 'p256')
  t.equal((await keys.recipientFor('ECDH-ES')).kid, 'p256')
  t.equal(server.fetches, 1, 'cached')
  await t.rejects(keys.recipientFor('RSA-OAEP'), { code: 'encryption_key_unavailable', message: 'client c1 publishes no usable key for RSA-OAEP at its jwks_uri; the response is not sent unencrypted' })
  t.equal(server.fetches, 1, 'no fetch again within the interval')
  server.body = JSON.stringify({ keys: [p256, rsa] })
  now += OPTIONS.minRefetchMs
  t.equal((await keys.recipientFor('RSA-OAEP')).kid, 'rsa', 'the client rotated: the new key is found')
  t.equal(server.fetches, 2)
  const [a, b] = await Promise.all([keys.recipientFor('RSA-OAEP'), keys.recipientFor('ECDH-ES')])
  t.same([a.kid, b.kid, server.fetches], ['rsa', 'p256', 2])
  now += OPTIONS.cacheMs
  server.status = 500
  t.equal((await keys.recipientFor('ECDH-ES')).kid, 'p256', 'a failing refresh keeps the keys it had')
  t.equal(server.fetches, 3)
})

t.test('a jwks_uri that fails: the error names the client and the cause, never a plaintext fallback', async (t) => {
  const big = await startJwksServer({ keys: Array.from({ length: 40 }, () => rsa) })
  const slow = createServer(() => { /* never answers */ })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    await big.close()
    slow.closeAllConnections()
    slow.close()
  })
  const tooLarge = new RemoteClientKeys('c2', big.url, OPTIONS)
  await t.rejects(tooLarge.recipientFor('RSA-OAEP'), { code: 'encryption_key_unavailable', cause: { message: /^jwks_uri of client c2: the answer is larger than 4096 bytes/ } })
  const timedOut = new RemoteClientKeys('c3', `http://127.0.0.1:${(slow.address() as AddressInfo).port}/jwks`, { ...OPTIONS, timeoutMs: 50 })
  await t.rejects(timedOut.recipientFor('RSA-OAEP'), { cause: { message: 'jwks_uri of client c3: no answer within 50 ms' } })
  const notFound = await startJwksServer({})
  notFound.status = 404
  t.teardown(() => notFound.close())
  await t.rejects(new RemoteClientKeys('c4', notFound.url, OPTIONS).recipientFor('ECDH-ES'), { cause: { message: 'jwks_uri of client c4: HTTP 404' } })
  notFound.status = 200
  notFound.body = '{ not json'
  await t.rejects(new RemoteClientKeys('c5', notFound.url, OPTIONS).recipientFor('ECDH-ES'), { cause: { message: /^jwks_uri of client c5: / } })
})
