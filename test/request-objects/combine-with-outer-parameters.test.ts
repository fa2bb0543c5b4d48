// Only the object's parameters count (RFC 9101 §5, §6.3): the outer client_id must be there and be
// the object's client; outer response_type, scope and redirect_uri, which FAPI 1.0 clients repeat,
// must agree with the inner ones; every other outer parameter is dropped, named but never forwarded.
import t from 'tap'
import { combineWithOuterParameters } from '../../src/request-objects/combine-with-outer-parameters.js'
import { verifyRequestObject, type VerifiedRequestObject } from '../../src/request-objects/verify-request-object.js'
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, clientKeyPair, clientWith, goodClaims, policyWith, signedObject } from '../helpers/request-objects.js'

const key = await clientKeyPair('ES256')
const client = clientWith([key.publicJwk], { clientSecret: CLIENT_SECRET })
const { jti: _jti, ...claims } = goodClaims()
const verified: VerifiedRequestObject = await verifyRequestObject(await signedObject(claims, key.privateKey, { alg: 'ES256', kid: key.kid }), client, policyWith())
const outerOf = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries({ client_id: CLIENT_ID, request: 'the.request.object', ...entries }))
const refusal = (message: string): { code: string, message: string } => ({ code: 'invalid_request_object', message })

t.test('FAPI 1.0: the repeated parameters agree, the rest outside is dropped, the object\'s parameters are forwarded', async (t) => {
  const outer = outerOf({ response_type: 'code', scope: 'accounts openid', redirect_uri: REDIRECT_URI, state: 'state-outside', nonce: 'nonce-outside', response_mode: 'query' })
  const combined = combineWithOuterParameters(outer, verified)
  t.same(combined.parameters, [
    ['client_id', CLIENT_ID],
    ['response_type', 'code'],
    ['response_mode', 'jwt'],
    ['redirect_uri', REDIRECT_URI],
    ['scope', 'openid accounts'],
    ['state', 'state-inside'],
    ['nonce', 'nonce-inside'],
    ['code_challenge', claims['code_challenge']],
    ['code_challenge_method', 'S256'],
  ], 'client_id once, then the object\'s parameters; the inner state, nonce and response_mode')
  t.same(combined.dropped, ['response_type', 'scope', 'redirect_uri', 'state', 'nonce', 'response_mode'], 'names only; client_id and request are not "dropped"')
  t.notOk(combined.parameters.some(([, value]) => value === 'state-outside' || value === 'query'), 'no outer value is forwarded')
})

t.test('FAPI 2.0 / plain JAR: client_id and request alone', async (t) => {
  const combined = combineWithOuterParameters(outerOf({}), verified)
  t.same(combined.dropped, [])
  t.equal(combined.parameters[0]![1], CLIENT_ID)
  const withoutClientIdClaim = { ...verified, parameters: verified.parameters.filter(([name]) => name !== 'client_id') }
  t.same(combineWithOuterParameters(outerOf({}), withoutClientIdClaim).parameters.filter(([name]) => name === 'client_id'), [['client_id', CLIENT_ID]], 'no client_id claim: the outer one is added')
})

t.test('mismatches are refused', async (t) => {
  t.throws(() => combineWithOuterParameters(new Map([['request', 'x']]), verified), refusal('client_id is required beside a request object: it names the client whose keys verify it'))
  t.throws(() => combineWithOuterParameters(outerOf({ client_id: 'app2' }), verified), refusal('client_id app2 is not the client the request object was verified for'))
  t.throws(() => combineWithOuterParameters(outerOf({ response_type: 'code id_token' }), verified), refusal('response_type outside the request object differs from the one inside it'))
  t.throws(() => combineWithOuterParameters(outerOf({ scope: 'openid' }), verified), refusal('scope outside the request object differs from the one inside it'))
  t.throws(() => combineWithOuterParameters(outerOf({ redirect_uri: `${REDIRECT_URI}/` }), verified), refusal('redirect_uri outside the request object differs from the one inside it'), 'redirect_uri byte for byte')
  t.doesNotThrow(() => combineWithOuterParameters(outerOf({ scope: ' accounts  openid accounts' }), verified), 'scope: the same words in any order (RFC 6749 §3.3)')
  const noScopeInside = { ...verified, parameters: verified.parameters.filter(([name]) => name !== 'scope') }
  const combined = combineWithOuterParameters(outerOf({ scope: 'openid admin' }), noScopeInside)
  t.notOk(combined.parameters.some(([name]) => name === 'scope'), 'only outside: not compared, not forwarded')
  t.same(combined.dropped, ['scope'])
})
