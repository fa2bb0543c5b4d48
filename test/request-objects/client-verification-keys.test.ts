// The clients' signature keys: which key fits which JWS algorithm (use, alg, kid, type, curve,
// size), an inline set, and a jwks_uri that is fetched again (rate-limited) when a client rotates,
// so its new request objects verify. The encryption side stays as it was (test/unit/client-keys).
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { fixedVerificationKeys, importClientJwks, RemoteClientKeys, selectEncryptionKey, selectVerificationKeys } from '../../src/keys/client-keys.js'
import { verifyRequestObject } from '../../src/request-objects/verify-request-object.js'
import { startJwksServer } from '../helpers/response-security.js'
import { CLIENT_ID, clientKeyPair, goodClaims, policyWith, signedObject } from '../helpers/request-objects.js'

function jwkOf (type: string, options: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync(type as 'rsa', options as never) as unknown as { publicKey: KeyObject }
  return { ...publicKey.export({ format: 'jwk' }), ...extra }
}

const rsa = jwkOf('rsa', { modulusLength: 2048 }, { kid: 'rsa' })
const { keys } = importClientJwks({
  keys: [
    { ...rsa, use: 'enc', kid: 'rsa-enc' },
    jwkOf('rsa', { modulusLength: 1024 }, { kid: 'rsa-1024' }),
    { ...rsa, alg: 'PS256', kid: 'rsa-ps256' },
    rsa,
    jwkOf('ec', { namedCurve: 'P-256' }, { kid: 'p256', use: 'sig' }),
    jwkOf('ec', { namedCurve: 'P-384' }, { kid: 'p384' }),
    jwkOf('ec', { namedCurve: 'P-521' }, { kid: 'p521' }),
    jwkOf('ec', { namedCurve: 'secp256k1' }, { kid: 'k1' }),
    jwkOf('ed25519', {}, { kid: 'ed25519' }),
    jwkOf('x25519', {}, { kid: 'x25519' }),
  ],
}, 'jwks')
const kidsOf = (found: readonly KeyObject[]): Array<string | undefined> => found.map((key) => keys.find((entry) => entry.key === key)?.kid)

t.test('which keys fit a JWS algorithm: use, alg, kid, type, curve and size', async (t) => {
  t.same(kidsOf(selectVerificationKeys(keys, 'PS256', undefined)), ['rsa-ps256', 'rsa'], 'an enc key and a 1024-bit key never; every fitting key, in order')
  t.same(kidsOf(selectVerificationKeys(keys, 'RS256', undefined)), ['rsa'], 'a key marked PS256 does not verify RS256')
  t.same(kidsOf(selectVerificationKeys(keys, 'PS512', 'rsa')), ['rsa'], 'the kid of the header')
  t.same(kidsOf(selectVerificationKeys(keys, 'PS256', 'rsa-enc')), [], 'a kid naming an encryption key')
  t.same(kidsOf(selectVerificationKeys(keys, 'ES256', undefined)), ['p256'])
  t.same(kidsOf(selectVerificationKeys(keys, 'ES384', undefined)), ['p384'])
  t.same(kidsOf(selectVerificationKeys(keys, 'ES512', undefined)), ['p521'])
  t.same(kidsOf(selectVerificationKeys(keys, 'ES256', 'p384')), [], 'the curve must be the one of the alg')
  t.same(kidsOf(selectVerificationKeys(keys, 'EdDSA', undefined)), ['ed25519'], 'Ed25519, not X25519')
  t.same(kidsOf(selectVerificationKeys(keys, 'Ed25519', undefined)), ['ed25519'], 'the fully specified name (RFC 9864)')
  for (const alg of ['HS256', 'none', 'ES256K', 'RS1']) t.same(selectVerificationKeys(keys, alg, undefined), [], `${alg}: no public key`)
  t.equal(selectEncryptionKey(keys, 'RSA-OAEP')?.kid, 'rsa-enc', 'encryption still picks its own keys')
  t.same(await fixedVerificationKeys(keys).verificationKeys('ES384', 'p384'), [keys[5]!.key], 'an inline set')
})

const OPTIONS = { timeoutMs: 2000, maxBytes: 65_536, cacheMs: 300_000, minRefetchMs: 60_000 }

t.test('a jwks_uri: the client rotates its keys, the gateway fetches again (at most once per interval) and verifies', async (t) => {
  const before = await clientKeyPair('PS256', 'key-2025')
  const after = await clientKeyPair('PS256', 'key-2026')
  const server = await startJwksServer({ keys: [before.publicJwk] })
  t.teardown(() => server.close())
  let now = 1_000_000
  const remote = new RemoteClientKeys(CLIENT_ID, server.url, OPTIONS, () => now)
  const client = { clientId: CLIENT_ID, verificationKeys: remote }
  const policy = policyWith()
  const objectOf = (key: typeof before): Promise<string> => signedObject(goodClaims(), key.privateKey, { alg: 'PS256', kid: key.kid })

  t.equal((await verifyRequestObject(await objectOf(before), client, policy)).kid, 'key-2025')
  t.equal((await verifyRequestObject(await objectOf(before), client, policy)).kid, 'key-2025')
  t.equal(server.fetches, 1, 'cached')

  server.body = JSON.stringify({ keys: [after.publicJwk, before.publicJwk] })
  now += OPTIONS.minRefetchMs
  t.equal((await verifyRequestObject(await objectOf(after), client, policy)).kid, 'key-2026', 'an unknown kid: fetched again, the new key found')
  t.equal(server.fetches, 2)

  const stranger = await clientKeyPair('PS256', 'key-unknown')
  await t.rejects(verifyRequestObject(await objectOf(stranger), client, policy), { code: 'invalid_request_object', message: `request object alg PS256 kid key-unknown: client ${CLIENT_ID} has no key that fits` })
  t.equal(server.fetches, 2, 'no fetch again within the interval, whatever kids are sent')
  now += OPTIONS.minRefetchMs
  await t.rejects(verifyRequestObject(await objectOf(stranger), client, policy), { code: 'invalid_request_object' })
  t.equal(server.fetches, 3, 'after the interval, one more fetch')

  const [a, b] = await Promise.all([remote.verificationKeys('PS256', 'key-2025'), remote.verificationKeys('PS256', 'key-2026')])
  t.same([a.length, b.length, server.fetches], [1, 1, 3], 'known keys: from the cache')
  now += OPTIONS.cacheMs
  server.status = 500
  t.equal((await remote.verificationKeys('PS256', 'key-2026')).length, 1, 'stale and a failing refresh: the keys it had')
  t.equal(server.fetches, 4)
  t.same(await remote.verificationKeys('ES256', undefined), [], 'keys known, none fits: empty, no error')
  await t.rejects(remote.recipientFor('ECDH-ES'), { code: 'encryption_key_unavailable' }, 'the same set serves encryption: no EC key here')
})

t.test('a jwks_uri that has never answered: no verdict on the signature, an error naming the client', async (t) => {
  const silent = createServer(() => { /* never answers */ })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.closeAllConnections(); silent.close() })
  const remote = new RemoteClientKeys('c9', `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks`, { ...OPTIONS, timeoutMs: 50 })
  const key = await clientKeyPair('ES256')
  const error = await verifyRequestObject(await signedObject(goodClaims(), key.privateKey, { alg: 'ES256', kid: key.kid }), { clientId: CLIENT_ID, verificationKeys: remote }, policyWith())
    .catch((caught: unknown) => caught)
  t.match(error, { code: 'client_keys_unavailable', status: 502, redirectable: false, message: 'the keys of client c9 cannot be fetched from its jwks_uri', cause: { message: 'jwks_uri of client c9: no answer within 50 ms' } })
})
