import t from 'tap'
import { compactVerify, createLocalJWKSet, decodeJwt, jwtVerify } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { buildResponseClaims } from '../../src/jarm/response-claims.js'
import { ResponseTokenFactory } from '../../src/jarm/response-token.js'
import { ASYMMETRIC_ALGS, asymmetricSigner, signJwt, symmetricSigner, SYMMETRIC_ALGS } from '../../src/jarm/sign-jwt.js'
import { generatePrivateJwk, generateSigningKey, KeyRing } from '../../src/keys/signing-keys.js'
import { createPrivateKey } from 'node:crypto'

t.test('claims: iss, aud, exp, iat, state restored, parameters copied, expires_in a number', async (t) => {
  const claims = buildResponseClaims({
    issuer: 'https://id.example', clientId: 'app1', state: 'orig', nowSeconds: 1000, ttlSeconds: 120,
    parameters: [['code', 'c'], ['state', 'jg1.x'], ['iss', 'https://legacy'], ['expires_in', '3600'], ['session_state', '42'], ['token_type', 'Bearer'], ['aud', 'other'], ['exp', '1']],
  })
  t.same(claims, { iss: 'https://id.example', aud: 'app1', exp: 1120, iat: 1000, state: 'orig', code: 'c', expires_in: 3600, session_state: '42', token_type: 'Bearer' })
  t.same(Object.keys(claims).filter((k) => k === 'iss'), ['iss'], 'one iss')
  const odd = buildResponseClaims({ issuer: 'i', clientId: 'a', state: undefined, nowSeconds: 0, ttlSeconds: 10, parameters: [['expires_in', '1e3']] })
  t.equal(odd['expires_in'], '1e3', 'a non-integer expires_in stays as sent')
  t.notOk('state' in odd)
  t.throws(() => buildResponseClaims({ issuer: 'i', clientId: 'a', state: undefined, nowSeconds: 0, ttlSeconds: 10, parameters: [['code', '1'], ['code', '2']] }), { code: 'capture_failed', message: 'the identity server sent parameter code more than once' })
})

t.test('every asymmetric algorithm signs what jose verifies, with the published key', async (t) => {
  for (const alg of ASYMMETRIC_ALGS) {
    const jwk = await generatePrivateJwk(alg)
    const key = (await generateSigningKey(alg))
    t.equal(key.alg, alg)
    const ring = new KeyRing([key])
    const jwt = signJwt({ alg, kid: key.kid }, { hello: 'world' }, key.signer)
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet({ keys: [...ring.publicJwks] }), { algorithms: [alg] })
    t.same(payload, { hello: 'world' }, alg)
    t.same(protectedHeader, { alg, kid: key.kid })
    const direct = signJwt({ alg }, { a: 1 }, asymmetricSigner(alg, createPrivateKey({ key: jwk as never, format: 'jwk' })))
    const { kid: _kid, d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk
    await t.resolves(compactVerify(direct, createLocalJWKSet({ keys: [{ ...publicJwk }] })), `${alg} with a key from the CLI's generator`)
  }
})

t.test('HS256/384/512 from a secret', async (t) => {
  const secret = Buffer.from('a-client-secret-a-client-secret-0123')
  for (const alg of SYMMETRIC_ALGS) {
    const jwt = signJwt({ alg }, { x: 1 }, symmetricSigner(alg, secret))
    t.same((await jwtVerify(jwt, secret, { algorithms: [alg] })).payload, { x: 1 }, alg)
  }
})

t.test('the response token factory signs per client', async (t) => {
  const keys = { keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('RS256')] }
  const config = await buildConfig({
    upstream: { url: 'http://127.0.0.1:1' },
    keys,
    clients: { es: { authorization_signed_response_alg: 'ES256' }, hs: { authorization_signed_response_alg: 'HS384', client_secret: 'hs384-client-secret-of-48-bytes-or-more-0123456789' } },
  }, '.')
  const factory = new ResponseTokenFactory(config, () => 1_800_000_000_000)
  const input = { issuer: 'https://id.example', state: 's', parameters: [['code', 'c']] as const }
  const jwks = createLocalJWKSet({ keys: [...config.keyRing.publicJwks] })
  const es = await jwtVerify(factory.create({ ...input, clientId: 'es' }), jwks, { currentDate: new Date(1_800_000_000_000) })
  t.same(es.protectedHeader, { alg: 'ES256', kid: keys.keys[0]!.kid })
  t.same(es.payload, { iss: 'https://id.example', aud: 'es', exp: 1_800_000_120, iat: 1_800_000_000, state: 's', code: 'c' })
  const unlisted = await jwtVerify(factory.create({ ...input, clientId: 'unlisted' }), jwks, { currentDate: new Date(1_800_000_000_000) })
  t.same(unlisted.protectedHeader, { alg: 'RS256', kid: keys.keys[1]!.kid }, 'JARM §3 default')
  const hs = factory.create({ ...input, clientId: 'hs' })
  const verified = await jwtVerify(hs, Buffer.from('hs384-client-secret-of-48-bytes-or-more-0123456789'), { currentDate: new Date(1_800_000_000_000) })
  t.same(verified.protectedHeader, { alg: 'HS384' }, 'no kid: the key is the client secret')
  t.equal(factory.algorithmFor('hs'), 'HS384')
  t.equal(decodeJwt(hs).aud, 'hs')

  const withoutKey = { ...config, keyRing: new KeyRing([]) }
  t.throws(() => new ResponseTokenFactory(withoutKey).create({ ...input, clientId: 'es' }), { code: 'signing_failed', message: 'no signing key serves ES256' })
})
