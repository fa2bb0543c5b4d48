// Signed request objects (RFC 9101 §6; FAPI 1.0 Advanced part 2 §5.2.2 and §8.6; FAPI 2.0 Message
// Signing): objects made by oauth4webapi and jose are accepted; every refusal the conformance suite
// names, and the rest of RFC 9101, end in invalid_request_object with a message naming the claim.
import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { CompactSign } from 'jose'
import * as oauth from 'oauth4webapi'
import { GatewayError } from '../../src/errors.js'
import { asymmetricSigner, signJwt } from '../../src/jarm/sign-jwt.js'
import { verifyRequestObject, DEFAULT_CLOCK_TOLERANCE_S, type RequestObjectClient, type RequestObjectPolicy } from '../../src/request-objects/verify-request-object.js'
import {
  AUTHORIZATION_PARAMETERS, CLIENT_ID, CLIENT_SECRET, FakeReplayStore, ISSUER, PAR_ENDPOINT,
  clientKeyPair, clientWith, goodClaims, nowSeconds, policyWith, signedObject, unsignedObject,
} from '../helpers/request-objects.js'

const ps256 = await clientKeyPair('PS256')
const es256 = await clientKeyPair('ES256')
const ed25519 = await clientKeyPair('EdDSA')
const rs256 = await clientKeyPair('RS256')
const other = await clientKeyPair('PS256', 'other-client-key')
const client = clientWith([ps256.publicJwk, es256.publicJwk, ed25519.publicJwk, rs256.publicJwk], { clientSecret: CLIENT_SECRET })
const policy = policyWith()
const secret = new TextEncoder().encode(CLIENT_SECRET)

const as: oauth.AuthorizationServer = { issuer: ISSUER }
const oauthClient: oauth.Client = { client_id: CLIENT_ID }
// oauth4webapi adds client_id itself.
const { client_id: _clientId, ...FAPI_PARAMETERS } = AUTHORIZATION_PARAMETERS

/** The refusal a promise ends in, checked to be invalid_request_object with exactly `message`. */
async function refused (t: Test, verifying: Promise<unknown>, message: string | RegExp, what: string): Promise<void> {
  const error = await verifying.then(() => undefined, (caught: unknown) => caught)
  t.ok(error instanceof GatewayError, `${what}: a GatewayError`)
  t.match(error, { code: 'invalid_request_object', oauthError: 'invalid_request_object', redirectable: true, message }, what)
}

/** An object with `change` applied to good claims (undefined deletes), signed PS256 by the client. */
async function withClaims (change: Record<string, unknown>, key = ps256): Promise<string> {
  const claims = { ...goodClaims(), ...change }
  for (const [name, value] of Object.entries(change)) if (value === undefined) Reflect.deleteProperty(claims, name)
  return signedObject(claims, key.privateKey, { alg: key.alg, kid: key.kid, typ: 'oauth-authz-req+jwt' })
}

t.test('objects made by oauth4webapi verify, for PS256, ES256 and EdDSA, and their claims become parameters', async (t) => {
  for (const key of [ps256, es256, ed25519]) {
    const jwt = await oauth.issueRequestObject(as, oauthClient, FAPI_PARAMETERS, { key: key.privateKey, kid: key.kid })
    const verified = await verifyRequestObject(jwt, client, policy)
    t.equal(verified.alg, key.alg === 'EdDSA' ? 'Ed25519' : key.alg, `${key.alg}: oauth4webapi names Ed25519 by its fully specified alg (RFC 9864)`)
    t.equal(verified.kid, key.kid)
    t.equal(verified.encrypted, false)
    t.equal(verified.clientId, CLIENT_ID)
    t.same(Object.fromEntries(verified.parameters), { ...FAPI_PARAMETERS, client_id: CLIENT_ID }, `${key.alg}: the parameters, no registered claim among them`)
    t.equal(verified.expiresAt, verified.claims['exp'])
    t.type(verified.claims['jti'], 'string')
  }
  // The older name of the same algorithm, as FAPI 2.0 lists it.
  const remapped = await oauth.issueRequestObject(as, oauthClient, FAPI_PARAMETERS, { key: ed25519.privateKey, kid: ed25519.kid }, {
    [oauth.modifyAssertion]: (header) => { header.alg = 'EdDSA' },
  })
  t.equal((await verifyRequestObject(remapped, client, policy)).alg, 'EdDSA')
})

t.test('numbers, objects and arrays take their parameter form; repeated resources stay repeated', async (t) => {
  const claims = { claims: { id_token: { acr: { essential: true, values: ['urn:acr:strong'] } } }, authorization_details: [{ type: 'payment_initiation', amount: '10.00' }] }
  const jwt = await oauth.issueRequestObject(as, oauthClient, {
    ...FAPI_PARAMETERS,
    max_age: '300',
    claims: JSON.stringify(claims.claims),
    authorization_details: JSON.stringify(claims.authorization_details),
  }, { key: es256.privateKey, kid: es256.kid })
  const { parameters, claims: verifiedClaims } = await verifyRequestObject(jwt, client, policy)
  t.equal(verifiedClaims['max_age'], 300, 'oauth4webapi sends max_age as a number')
  const byName = new Map(parameters)
  t.equal(byName.get('max_age'), '300', 'a number: its decimal string')
  t.same(JSON.parse(byName.get('claims')!), claims.claims, 'an object: its JSON text')
  t.same(JSON.parse(byName.get('authorization_details')!), claims.authorization_details, 'an array: its JSON text')

  const resources = await oauth.issueRequestObject(as, oauthClient, [...Object.entries(FAPI_PARAMETERS), ['resource', 'https://rs1.example.com'], ['resource', 'https://rs2.example.com']], { key: es256.privateKey, kid: es256.kid })
  t.same((await verifyRequestObject(resources, client, policy)).parameters.filter(([name]) => name === 'resource'), [['resource', 'https://rs1.example.com'], ['resource', 'https://rs2.example.com']], 'RFC 8707: one parameter per resource')
  const oneResource = await withClaims({ resource: 'https://rs1.example.com' })
  t.same((await verifyRequestObject(oneResource, client, policy)).parameters.filter(([name]) => name === 'resource'), [['resource', 'https://rs1.example.com']])

  await refused(t, verifyRequestObject(await withClaims({ resource: ['https://rs1.example.com', 7] }), client, policy), 'request object resource must be a string or an array of strings', 'a resource that is not a string')
  await refused(t, verifyRequestObject(await withClaims({ prompt_login: true }), client, policy), 'request object prompt_login is a boolean, which no authorization parameter can carry', 'a boolean')
  await refused(t, verifyRequestObject(await withClaims({ login_hint: null }), client, policy), 'request object login_hint is null, which no authorization parameter can carry', 'null')
})

t.test('HS256 verifies with the UTF-8 bytes of the client_secret, and only when the client has one', async (t) => {
  const jwt = await signedObject(goodClaims(), secret, { alg: 'HS256' })
  t.equal((await verifyRequestObject(jwt, client, policy)).alg, 'HS256')
  await refused(t, verifyRequestObject(jwt, { ...client, clientSecret: undefined }, policy), `request object alg HS256 needs a client_secret, and client ${CLIENT_ID} has none`, 'no secret')
  await refused(t, verifyRequestObject(jwt, { ...client, clientSecret: `${CLIENT_SECRET}-other` }, policy), `request object signature does not verify with the keys of client ${CLIENT_ID}`, 'another secret')
})

t.test('the algorithm: never none, one the policy allows, the one the client registered', async (t) => {
  await refused(t, verifyRequestObject(unsignedObject({ alg: 'none' }, goodClaims()), client, policyWith({ signingAlgs: ['none', 'PS256'] })), 'request object alg none is refused: a request object must be signed', 'alg none, even if listed')
  await refused(t, verifyRequestObject(unsignedObject({ typ: 'JWT' }, goodClaims()), client, policy), 'request object alg is missing', 'no alg at all')
  const rs = await withClaims({}, rs256)
  await refused(t, verifyRequestObject(rs, client, policyWith({ signingAlgs: ['PS256', 'ES256'] })), 'request object alg RS256 is not allowed; expected one of PS256, ES256', 'RS256 not allowed (FAPI §8.6)')
  await refused(t, verifyRequestObject(rs, { ...client, requestObjectSigningAlg: 'PS256' }, policyWith({ signingAlgs: ['PS256', 'RS256'] })), `request object alg RS256 is not the request_object_signing_alg PS256 registered for client ${CLIENT_ID}`, 'RS256 where PS256 is registered')
  t.equal((await verifyRequestObject(await withClaims({}), { ...client, requestObjectSigningAlg: 'PS256' }, policy)).alg, 'PS256', 'the registered one')
})

t.test('the signature: made by a key of this client that fits the header', async (t) => {
  await refused(t, verifyRequestObject(await signedObject(goodClaims(), other.privateKey, { alg: 'PS256', kid: ps256.kid }), client, policy), `request object signature does not verify with the keys of client ${CLIENT_ID}`, 'another key, claiming the client\'s kid')
  await refused(t, verifyRequestObject(await withClaims({}, other), client, policy), `request object alg PS256 kid ${other.kid}: client ${CLIENT_ID} has no key that fits`, 'a kid the client does not have')
  await refused(t, verifyRequestObject(await signedObject(goodClaims(), other.privateKey, { alg: 'PS256' }), client, policy), `request object signature does not verify with the keys of client ${CLIENT_ID}`, 'another key, no kid')
  const esOnly = clientWith([es256.publicJwk])
  await refused(t, verifyRequestObject(await signedObject(goodClaims(), ps256.privateKey, { alg: 'PS256' }), esOnly, policy), `request object alg PS256: client ${CLIENT_ID} has no key that fits`, 'no key for the alg')
  t.equal((await verifyRequestObject(await signedObject(goodClaims(), ps256.privateKey, { alg: 'PS256' }), client, policy)).kid, undefined, 'no kid: every key that fits is tried (ps256 and rs256 here)')
  // A kid that is not a string names no key: only keys of the alg are tried, none with a kid.
  const numericKid = await new CompactSign(new TextEncoder().encode(JSON.stringify(goodClaims()))).setProtectedHeader({ alg: 'PS256', kid: 7 as unknown as string }).sign(ps256.privateKey)
  t.equal((await verifyRequestObject(numericKid, client, policy)).kid, undefined)
  const tampered = (await withClaims({})).split('.')
  tampered[1] = Buffer.from(JSON.stringify({ ...goodClaims(), state: 'changed' })).toString('base64url')
  await refused(t, verifyRequestObject(tampered.join('.'), client, policy), `request object signature does not verify with the keys of client ${CLIENT_ID}`, 'a payload changed after signing')
})

t.test('typ: oauth-authz-req+jwt or JWT (any case, with or without application/), or none; anything else is another kind of token', async (t) => {
  for (const typ of ['oauth-authz-req+jwt', 'application/oauth-authz-req+jwt', 'JWT', 'jwt', 'application/jwt']) {
    t.ok(await verifyRequestObject(await signedObject(goodClaims(), secret, { alg: 'HS256', typ }), client, policy), typ)
  }
  t.ok(await verifyRequestObject(await signedObject(goodClaims(), secret, { alg: 'HS256' }), client, policy), 'no typ')
  await refused(t, verifyRequestObject(await signedObject(goodClaims(), secret, { alg: 'HS256', typ: 'dpop+jwt' }), client, policy), 'request object typ dpop+jwt is not oauth-authz-req+jwt or JWT', 'a DPoP proof')
  await refused(t, verifyRequestObject(await signedObject(goodClaims(), secret, { alg: 'HS256', typ: 1 as unknown as string }), client, policy), 'request object typ 1 is not oauth-authz-req+jwt or JWT', 'a typ that is no string')
})

t.test('iss is the client, aud the issuer (alone or in an array), never the PAR endpoint or anything else', async (t) => {
  await refused(t, verifyRequestObject(await withClaims({ iss: 'app2' }), client, policy), `request object iss must be the client_id ${CLIENT_ID}`, 'another iss')
  await refused(t, verifyRequestObject(await withClaims({ iss: undefined }), client, policy), `request object iss must be the client_id ${CLIENT_ID}`, 'no iss')
  const audMessage = `request object aud must be the issuer ${ISSUER}, or an array holding it`
  await refused(t, verifyRequestObject(await withClaims({ aud: PAR_ENDPOINT }), client, policy), audMessage, 'aud = the PAR endpoint URL')
  await refused(t, verifyRequestObject(await withClaims({ aud: 'https://other.example.com' }), client, policy), audMessage, 'aud = another issuer')
  await refused(t, verifyRequestObject(await withClaims({ aud: [PAR_ENDPOINT] }), client, policy), audMessage, 'an array without the issuer')
  await refused(t, verifyRequestObject(await withClaims({ aud: undefined }), client, policy), audMessage, 'no aud')
  t.ok(await verifyRequestObject(await withClaims({ aud: [PAR_ENDPOINT, ISSUER] }), client, policy), 'an array holding the issuer')
})

t.test('exp and nbf: required, numbers, within FAPI\'s 60 minutes, with the clock tolerance', async (t) => {
  const now = nowSeconds()
  const at = (change: Record<string, unknown>): Promise<string> => withClaims({ iat: now, nbf: now, exp: now + 300, ...change })
  await refused(t, verifyRequestObject(await at({ exp: undefined }), client, policy), 'request object exp is required', 'missing exp')
  await refused(t, verifyRequestObject(await at({ nbf: undefined }), client, policy), 'request object nbf is required', 'missing nbf')
  await refused(t, verifyRequestObject(await at({ exp: String(now + 300) }), client, policy), 'request object exp must be a number of seconds since the epoch', 'exp as a string')
  await refused(t, verifyRequestObject(await at({ iat: 'now' }), client, policy), 'request object iat must be a number of seconds since the epoch', 'iat as a string')
  await refused(t, verifyRequestObject(await at({ nbf: now - 60, exp: now + 3600 }), client, policy), 'request object exp is more than 3600 seconds after its nbf', 'exp - nbf over 60 minutes')
  t.ok(await verifyRequestObject(await at({ nbf: now - 60, exp: now + 3540 }), client, policy), 'exp - nbf exactly 60 minutes')
  await refused(t, verifyRequestObject(await at({ nbf: now - 3601, exp: now + 60 }), client, policy), 'request object nbf is more than 3600 seconds in the past', 'nbf over 60 minutes old')
  await refused(t, verifyRequestObject(await at({ iat: now - 600, nbf: now - 600, exp: now - 300 }), client, policy), 'request object has expired (exp)', 'expired')
  await refused(t, verifyRequestObject(await at({ exp: now - DEFAULT_CLOCK_TOLERANCE_S }), client, policy), 'request object has expired (exp)', 'expired by exactly the tolerance')
  t.ok(await verifyRequestObject(await at({ nbf: now - 60, exp: now - DEFAULT_CLOCK_TOLERANCE_S + 2 }), client, policy), 'just expired, within the tolerance')
  await refused(t, verifyRequestObject(await at({ nbf: now + 300, exp: now + 200 }), client, policyWith({ clockToleranceSeconds: 600 })), 'request object exp must be after its nbf', 'exp before nbf')
  t.ok(await verifyRequestObject(await at({ nbf: now + 5, exp: now + 300 }), client, policy), 'FAPI 2.0: nbf a few seconds in the future')
  await refused(t, verifyRequestObject(await at({ nbf: now + 60, exp: now + 300 }), client, policy), 'request object nbf is in the future', 'nbf beyond the tolerance')
  t.ok(await verifyRequestObject(await at({ nbf: now + 60, exp: now + 300 }), client, policyWith({ clockToleranceSeconds: 90 })), 'a wider tolerance')
  await refused(t, verifyRequestObject(await at({ iat: now + 60 }), client, policy), 'request object iat is in the future', 'iat in the future')
  t.ok(await verifyRequestObject(await at({ iat: undefined }), client, policy), 'iat is optional')
  // A fixed clock: the same object is good at one time and expired at another.
  const fixed = await at({})
  t.ok(await verifyRequestObject(fixed, client, policyWith({ now: () => now * 1000 })))
  await refused(t, verifyRequestObject(fixed, client, policyWith({ now: () => (now + 400) * 1000 })), 'request object has expired (exp)', 'the policy\'s clock')
})

t.test('no request or request_uri inside; a client_id claim is the client', async (t) => {
  await refused(t, verifyRequestObject(await withClaims({ request: 'eyJ...' }), client, policy), 'request object must not contain request (RFC 9101 §4)', 'request inside')
  await refused(t, verifyRequestObject(await withClaims({ request_uri: 'urn:ietf:params:oauth:request_uri:abc' }), client, policy), 'request object must not contain request_uri (RFC 9101 §4)', 'request_uri inside')
  await refused(t, verifyRequestObject(await withClaims({ client_id: 'app2' }), client, policy), `request object client_id must be ${CLIENT_ID}, the client it is sent for`, 'client_id mismatch')
  const verified = await verifyRequestObject(await withClaims({ client_id: undefined }), client, policy)
  t.notOk(verified.parameters.some(([name]) => name === 'client_id'), 'no client_id claim: none among the parameters (the outer one is added when combined)')
})

t.test('the payload is a JSON object', async (t) => {
  const signRaw = (text: string): Promise<string> => new CompactSign(new TextEncoder().encode(text)).setProtectedHeader({ alg: 'HS256' }).sign(secret)
  for (const text of ['not json', '"a string"', 'null', '[1,2]']) {
    await refused(t, verifyRequestObject(await signRaw(text), client, policy), 'request object payload must be a json object', text)
  }
})

t.test('what is not a JWT at all', async (t) => {
  await refused(t, verifyRequestObject('abc', client, policy), 'request object must be a signed jwt (three parts) or an encrypted one (five parts)', 'one part')
  await refused(t, verifyRequestObject('a.b.c.d', client, policy), 'request object must be a signed jwt (three parts) or an encrypted one (five parts)', 'four parts')
  await refused(t, verifyRequestObject('%%%.e30.sig', client, policy), 'request object has no readable jose header', 'a header that is not base64url JSON')
})

t.test('jti: used once through the replay store, recorded last, until the object can no longer be accepted', async (t) => {
  const store = new FakeReplayStore()
  const withStore = policyWith({ replayStore: store })
  const jwt = await withClaims({ jti: 'jti-1' })
  const verified = await verifyRequestObject(jwt, client, withStore)
  t.same(store.calls, [{ kind: 'request_object_jti', clientId: CLIENT_ID, id: 'jti-1', expiresAtSeconds: (verified.claims['exp'] as number) + DEFAULT_CLOCK_TOLERANCE_S }])
  await refused(t, verifyRequestObject(jwt, client, withStore), 'request object jti has been used before: a request object is used once', 'jti replay')
  await refused(t, verifyRequestObject(await withClaims({ jti: 'jti-2', aud: PAR_ENDPOINT }), client, withStore), /aud/, 'refused for its aud')
  t.equal(store.calls.length, 2, 'an object refused for anything else is not recorded')
  await refused(t, verifyRequestObject(await withClaims({ jti: 'jti-3', flag: false }), client, withStore), /flag/, 'refused for a claim with no parameter form')
  t.equal(store.calls.length, 2)
  t.ok(await verifyRequestObject(await withClaims({ jti: undefined }), client, withStore), 'jti is optional')
  t.ok(await verifyRequestObject(jwt, client, policy), 'without a store, no one-time use')
  await refused(t, verifyRequestObject(await withClaims({ jti: 42 }), client, withStore), 'request object jti must be a non-empty string', 'a number')
  await refused(t, verifyRequestObject(await withClaims({ jti: '' }), client, withStore), 'request object jti must be a non-empty string', 'empty')

  const down = new Error('replay store unreachable')
  store.down = down
  const error = await verifyRequestObject(await withClaims({ jti: 'jti-4' }), client, withStore).catch((caught: unknown) => caught)
  t.equal(error, down, 'replay store down: its error, unchanged (fail closed)')
})

t.test('a policy allowing nothing refuses everything; the client passed is the one checked', async (t) => {
  const empty: RequestObjectPolicy = { issuer: ISSUER, signingAlgs: [] }
  await refused(t, verifyRequestObject(await withClaims({}), client, empty), 'request object alg PS256 is not allowed; expected one of ', 'no algorithm')
  const app2: RequestObjectClient = { ...client, clientId: 'app2' }
  await refused(t, verifyRequestObject(await withClaims({}), app2, policy), 'request object iss must be the client_id app2', 'app1\'s object is not app2\'s, even with the same keys')
  // A small RSA key never verifies, even listed for the client.
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const smallJwk = { ...small.publicKey.export({ format: 'jwk' }), kid: 'small' }
  // jose will not sign with it either: node:crypto does.
  const smallObject = signJwt({ alg: 'PS256', kid: 'small' }, goodClaims(), asymmetricSigner('PS256', small.privateKey))
  await refused(t, verifyRequestObject(smallObject, clientWith([smallJwk]), policy), `request object alg PS256 kid small: client ${CLIENT_ID} has no key that fits`, 'RSA under 2048 bits')
})
