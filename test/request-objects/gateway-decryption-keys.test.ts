// The gateway's `use: "enc"` keys: loaded beside the signing keys, never signing, published with
// their public part, kid, use and alg, and the request_object_encryption_* lists they allow.
import t from 'tap'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { exportJWK, type JWK } from 'jose'
import { generatePrivateJwk, KeyRing, loadSigningKeys } from '../../src/keys/signing-keys.js'

async function encJwk (type: 'rsa' | 'ec' | 'x25519' | 'ed25519', extra: Record<string, unknown> = {}, options: Record<string, unknown> = {}): Promise<JWK> {
  const defaults = type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve: 'P-384' } : {}
  const { privateKey } = generateKeyPairSync(type as 'rsa', { ...defaults, ...options } as never) as unknown as { privateKey: KeyObject }
  return { ...await exportJWK(privateKey), use: 'enc', ...extra }
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi']

t.test('enc keys load apart from the signing keys, with a default alg for their type, and are published', async (t) => {
  const signing = await generatePrivateJwk('ES256')
  const { kid: _kid, use: _use, alg: _alg, ...noUse } = await generatePrivateJwk('RS256')
  const { keys, decryptionKeys, problems } = await loadSigningKeys({
    keys: [
      signing,
      await encJwk('rsa', { kid: 'rsa-enc' }),
      await encJwk('ec', { kid: 'ec-enc' }),
      await encJwk('x25519', { kid: 'x-enc', alg: 'ECDH-ES+A128KW' }),
      await encJwk('rsa', { kid: 'rsa-oaep', alg: 'RSA-OAEP' }),
      await encJwk('ec', { kid: 'ec-enc-2' }, { namedCurve: 'P-256' }),
      noUse,
    ],
  }, 'keys')
  t.same(problems, [])
  t.same(keys.map((key) => key.alg), ['ES256', 'RS256'], 'a key without use stays a signing key')
  t.same(decryptionKeys.map((key) => [key.kid, key.alg]), [['rsa-enc', 'RSA-OAEP-256'], ['ec-enc', 'ECDH-ES'], ['x-enc', 'ECDH-ES+A128KW'], ['rsa-oaep', 'RSA-OAEP'], ['ec-enc-2', 'ECDH-ES']])
  for (const key of decryptionKeys) {
    t.same(Object.keys(key.publicJwk).filter((name) => PRIVATE_MEMBERS.includes(name)), [], `${key.kid}: no private member published`)
    t.match(key.publicJwk, { kid: key.kid, use: 'enc', alg: key.alg })
    t.equal(key.privateKey.type, 'private')
  }

  const ring = new KeyRing(keys, decryptionKeys)
  t.same(ring.algorithms, ['ES256', 'RS256'], 'enc keys never sign')
  t.equal(ring.keyFor('ES256')?.kid, signing.kid)
  t.same(ring.publicJwks.map((jwk) => [jwk.kid, jwk.use]), [
    [signing.kid, 'sig'], [keys[1]!.kid, 'sig'], ['rsa-enc', 'enc'], ['ec-enc', 'enc'], ['x-enc', 'enc'], ['rsa-oaep', 'enc'], ['ec-enc-2', 'enc'],
  ], 'the JWKS: signing keys, then encryption keys')
  t.same(ring.requestObjectEncryptionAlgs, ['RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'RSA-OAEP'], 'each alg once')
  t.same(ring.requestObjectEncryptionEncs, ['A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512', 'A128GCM', 'A192GCM', 'A256GCM'])

  const signingOnly = new KeyRing(keys)
  t.same(signingOnly.decryptionKeys, [])
  t.same([signingOnly.requestObjectEncryptionAlgs, signingOnly.requestObjectEncryptionEncs], [[], []], 'no enc key: nothing to advertise')
  t.same(signingOnly.publicJwks.map((jwk) => jwk.use), ['sig', 'sig'], 'the JWKS as it always was')
})

t.test('every problem of an enc key is reported with its path', async (t) => {
  const { d: _d, ...publicOnly } = await encJwk('ec')
  const duplicate = await generatePrivateJwk('ES256')
  const { problems, decryptionKeys } = await loadSigningKeys({
    keys: [
      publicOnly,
      await encJwk('ed25519'),
      await encJwk('ec', { alg: 'RSA-OAEP-256' }),
      await encJwk('rsa', { alg: 'ECDH-ES' }),
      await encJwk('rsa', {}, { modulusLength: 1024 }),
      duplicate,
      await encJwk('ec', { kid: duplicate.kid }),
      { kty: 'EC', crv: 'P-256', d: 'AA', x: 'AA', y: 'AA', use: 'enc', kid: 'broken' },
      { kty: 'RSA', use: 'enc', d: 'x' },
      { kty: 'EC', use: 'enc', d: 'x' },
    ],
  }, 'keys')
  t.same(decryptionKeys, [])
  t.same(problems, [
    'keys.keys[0].d: a private key is required to decrypt',
    'keys.keys[1].crv: an encryption key must be RSA, EC P-256, P-384, P-521 or X25519',
    'keys.keys[2].alg: RSA-OAEP-256 cannot be used with this encryption key; expected one of ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW',
    'keys.keys[3].alg: ECDH-ES cannot be used with this encryption key; expected one of RSA-OAEP-256, RSA-OAEP',
    'keys.keys[4].n: RSA keys must be at least 2048 bits',
    `keys.keys[6].kid: duplicate kid "${duplicate.kid!}"; every key needs its own`,
    problems[6]!,
    'keys.keys[8].n: RSA keys must be at least 2048 bits',
    'keys.keys[9].crv: an encryption key must be RSA, EC P-256, P-384, P-521 or X25519',
  ])
  t.match(problems[6], /^keys\.keys\[7\]: not a usable private key \(/)
  t.same((await loadSigningKeys('nothing', 'keys')).decryptionKeys, [])
})
