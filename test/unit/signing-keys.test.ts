import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'
import { generatePrivateJwk, KeyRing, loadSigningKeys } from '../../src/keys/signing-keys.js'

t.test('keys load with their algorithm, kid derived when missing, public members only published', async (t) => {
  const es = await generatePrivateJwk('ES384')
  const { kid: _kid, alg: _alg, use: _use, ...bare } = await generatePrivateJwk('RS256')
  const ps = { ...await generatePrivateJwk('RS256'), alg: 'PS256', kid: 'ps' }
  const ed = await generatePrivateJwk('EdDSA')
  const { keys, problems } = await loadSigningKeys({ keys: [es, bare, ps, ed] }, 'keys')
  t.same(problems, [])
  t.same(keys.map((k) => k.alg), ['ES384', 'RS256', 'PS256', 'EdDSA'], 'RSA defaults to RS256; alg chooses PS256')
  t.equal(keys[1]!.kid, await calculateJwkThumbprint(bare, 'sha256'), 'RFC 7638 thumbprint')
  for (const key of keys) {
    t.same(Object.keys(key.publicJwk).filter((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(k)), [], 'no private member')
    t.equal(key.publicJwk.use, 'sig')
    t.equal(key.publicJwk.kid, key.kid)
  }
  t.equal(keys[0]!.publicJwk.crv, 'P-384')
})

t.test('every problem is reported with its path', async (t) => {
  const good = await generatePrivateJwk('ES256')
  const { d: _d, ...publicOnly } = await generatePrivateJwk('ES256')
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' })
  const { problems, keys } = await loadSigningKeys({
    keys: [
      good,
      { ...good },
      publicOnly,
      { kty: 'oct', k: 'abc' },
      { ...await generatePrivateJwk('ES256'), use: 'wrap' },
      { ...await generatePrivateJwk('ES256'), alg: 'RS256' },
      { ...small, kid: 'small' },
      { kty: 'EC', crv: 'secp256k1', d: 'x', x: 'y', y: 'z' },
      { kty: 'EC', crv: 'P-256', d: 'AA', x: 'AA', y: 'AA', kid: 'broken' },
      'not a key',
      { kty: 'EC', d: 'x' },
      { kty: 'RSA', d: 'x' },
    ],
  }, 'keys')
  t.equal(keys.length, 1)
  t.same(problems, [
    `keys.keys[1].kid: duplicate kid "${good.kid!}"; every key needs its own`,
    'keys.keys[2].d: a private key is required to sign',
    'keys.keys[3].kty: must be RSA, EC or OKP (Ed25519)',
    'keys.keys[4].use: must be "sig" (signs responses) or "enc" (decrypts request objects)',
    'keys.keys[5].alg: RS256 cannot be used with this key; expected one of ES256',
    'keys.keys[6].n: RSA keys must be at least 2048 bits',
    'keys.keys[7].crv: must be P-256, P-384, P-521 or Ed25519',
    problems[7]!,
    'keys.keys[9]: must be a JWK object',
    'keys.keys[10].crv: must be P-256, P-384, P-521 or Ed25519',
    'keys.keys[11].n: RSA keys must be at least 2048 bits',
  ])
  t.match(problems[7], /^keys\.keys\[8\]: not a usable private key \(/)
  t.same((await loadSigningKeys({ nokeys: [] }, 'keys')).problems, ['keys: must be a JWKS, an object with a "keys" array'])
  t.same((await loadSigningKeys(null, 'keys')).problems, ['keys: must be a JWKS, an object with a "keys" array'])
})

t.test('the first key listed for an algorithm signs', async (t) => {
  const { keys } = await loadSigningKeys({ keys: [{ ...await generatePrivateJwk('ES256'), kid: 'new' }, { ...await generatePrivateJwk('ES256'), kid: 'old' }, { ...await generatePrivateJwk('RS256'), kid: 'rsa' }] }, 'keys')
  const ring = new KeyRing(keys)
  t.equal(ring.keyFor('ES256')?.kid, 'new')
  t.equal(ring.keyFor('RS256')?.kid, 'rsa')
  t.equal(ring.keyFor('PS256'), undefined)
  t.same(ring.algorithms, ['ES256', 'RS256'])
  t.same(ring.publicJwks.map((k) => k.kid), ['new', 'old', 'rsa'], 'all published, the old one too')
})
