// A request object re-signed for a legacy server that requires JAR: jose verifies it with the
// gateway's public JWK, its header says who signed it and what it is, its claims are the verified
// parameters (JSON restored) with the gateway's own iss/aud/iat/nbf/exp/jti, and the gateway's own
// verifier accepts it as a request object for the legacy issuer.
import t from 'tap'
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose'
import { generatePrivateJwk, loadSigningKeys, type SigningKey } from '../../src/keys/signing-keys.js'
import { importClientJwks, fixedVerificationKeys } from '../../src/keys/client-keys.js'
import { combineWithOuterParameters } from '../../src/request-objects/combine-with-outer-parameters.js'
import { DEFAULT_RESIGNED_LIFETIME_S, resignRequestObject } from '../../src/request-objects/resign-request-object.js'
import { verifyRequestObject } from '../../src/request-objects/verify-request-object.js'
import { CLIENT_ID, clientKeyPair, clientWith, goodClaims, nowSeconds, policyWith, signedObject } from '../helpers/request-objects.js'

const LEGACY_ISSUER = 'https://legacy.internal.example'
/** A gateway signing key, loaded as the config loads it. */
async function gatewayKeyFor (jwk: Record<string, unknown>): Promise<SigningKey> {
  const { keys, problems } = await loadSigningKeys({ keys: [jwk] }, 'keys')
  if (problems.length > 0) throw new Error(problems.join('; '))
  return keys[0]!
}

const gatewayKey = await gatewayKeyFor({ ...await generatePrivateJwk('PS256'), kid: 'gw-resign' } as Record<string, unknown>)

async function verifiedByJose (jwt: string, key: SigningKey = gatewayKey): Promise<Record<string, unknown>> {
  const { payload } = await compactVerify(jwt, await importJWK(key.publicJwk, key.alg), { algorithms: [key.alg] })
  return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>
}

t.test('the verified parameters round-trip through a fresh object jose verifies with the gateway\'s public JWK', async (t) => {
  const clientKey = await clientKeyPair('ES256')
  const client = clientWith([clientKey.publicJwk])
  const inner: Record<string, unknown> = {
    ...goodClaims(),
    max_age: 300,
    claims: { id_token: { acr: { essential: true } }, userinfo: { email: null } },
    authorization_details: [{ type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '10.00' } }],
    resource: ['https://rs1.example.com', 'https://rs2.example.com'],
  }
  const verified = await verifyRequestObject(await signedObject(inner, clientKey.privateKey, { alg: 'ES256', kid: clientKey.kid }), client, policyWith())
  const { parameters } = combineWithOuterParameters(new Map([['client_id', CLIENT_ID], ['state', 'outer']]), verified)
  const before = nowSeconds()
  const jwt = resignRequestObject(parameters, gatewayKey, { audience: LEGACY_ISSUER })

  t.same(decodeProtectedHeader(jwt), { alg: 'PS256', kid: 'gw-resign', typ: 'oauth-authz-req+jwt' })
  const claims = await verifiedByJose(jwt)
  const { iss: _iss, aud: _aud, iat: _iat, nbf: _nbf, exp: _exp, jti: innerJti, ...asked } = inner
  const { iss, aud, iat, nbf, exp, jti, ...carried } = claims
  t.same(carried, asked, 'every parameter as its claim: claims and authorization_details JSON again, max_age a number, resource an array')
  t.same([iss, aud], [CLIENT_ID, LEGACY_ISSUER], 'iss the client, aud the legacy issuer')
  t.ok((iat as number) >= before && iat === nbf, 'fresh iat and nbf')
  t.equal(exp, (iat as number) + DEFAULT_RESIGNED_LIFETIME_S)
  t.match(jti, /^[A-Za-z0-9_-]{22}$/, '128 random bits')
  t.not(jti, innerJti, 'a jti of its own')
  t.not(resignRequestObject(parameters, gatewayKey, { audience: LEGACY_ISSUER }).split('.')[1], jwt.split('.')[1], 'a new jti every time')

  // The legacy server, if it verified like the gateway does, would accept it: the gateway's key as the "client" key.
  const asLegacy = { clientId: CLIENT_ID, verificationKeys: fixedVerificationKeys(importClientJwks({ keys: [gatewayKey.publicJwk] }, 'jwks').keys) }
  const reverified = await verifyRequestObject(jwt, asLegacy, policyWith({ issuer: LEGACY_ISSUER }))
  t.same(reverified.parameters, verified.parameters, 'verified again, the same parameters')
})

t.test('lifetime, clock and what a parameter list must hold', async (t) => {
  const jwt = resignRequestObject([['client_id', CLIENT_ID], ['response_type', 'code'], ['max_age', 'soon'], ['claims', '{not json'], ['resource', 'https://rs.example.com']], gatewayKey, { audience: LEGACY_ISSUER, lifetimeSeconds: 30, now: () => 1_700_000_000_500 })
  const claims = await verifiedByJose(jwt)
  t.match(claims, { iat: 1_700_000_000, nbf: 1_700_000_000, exp: 1_700_000_030 })
  t.equal(claims['max_age'], 'soon', 'a max_age that is no number stays text')
  t.equal(claims['claims'], '{not json', 'claims that are no JSON stay text, for the legacy server to refuse')
  t.equal(claims['resource'], 'https://rs.example.com', 'one resource: a string')
  const overriding = await verifiedByJose(resignRequestObject([['client_id', CLIENT_ID], ['aud', 'https://elsewhere'], ['__proto__', 'x']], gatewayKey, { audience: LEGACY_ISSUER }))
  t.equal(overriding['aud'], LEGACY_ISSUER, 'registered claims are the gateway\'s own')
  t.equal(overriding['__proto__'], 'x', 'any name is just a name')

  t.throws(() => resignRequestObject([['response_type', 'code']], gatewayKey, { audience: LEGACY_ISSUER }), { code: 'missing_parameter', message: 'parameter client_id is required to re-sign a request object' })
  t.throws(() => resignRequestObject([['client_id', CLIENT_ID], ['state', 'a'], ['state', 'b']], gatewayKey, { audience: LEGACY_ISSUER }), { code: 'duplicate_parameter', message: 'parameter state must not be sent more than once' })
})

t.test('each algorithm the gateway signs with verifies', async (t) => {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    const key = await gatewayKeyFor(await generatePrivateJwk(alg) as Record<string, unknown>)
    const claims = await verifiedByJose(resignRequestObject([['client_id', CLIENT_ID]], key, { audience: LEGACY_ISSUER }), key)
    t.equal(claims['client_id'], CLIENT_ID, alg)
  }
})
