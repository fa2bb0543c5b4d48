import t, { type Test } from 'tap'
import { KeyObject, X509Certificate } from 'node:crypto'
import { CompactSign, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'
import * as oauth from 'oauth4webapi'
import type { ParameterList } from '../../src/authorization-request/parameters.js'
import type { VerificationKeySource } from '../../src/keys/verification-keys.js'
import { fakeReplayStore as fakeStore } from '../helpers/fake-replay-store.js'
import {
  AUTHENTICATION_PARAMETERS, authenticateClient, ClientAuthenticationFailed,
  type ClientAuthenticationInput, type ClientAuthenticationPolicy, type ClientCredentials,
} from '../../src/pushed-requests/client-authentication.js'
import { JWT_BEARER_ASSERTION_TYPE, MAX_ASSERTION_LIFETIME_S, MAX_JTI_CHARS } from '../../src/pushed-requests/client-assertion.js'
import { createTestPki } from '../helpers/test-pki.js'

const ISSUER = 'https://gateway.example.com'
const NOW_MS = 1_800_000_000_000
const NOW = NOW_MS / 1000
const SECRET = 'p@ss:w%rd+ä &=/'
const PUSHED: ParameterList = [['response_type', 'code'], ['redirect_uri', 'https://c.example/cb'], ['scope', 'openid']]

/** A key source over public keys, as src/keys/client-keys.ts will give them: alg and kid filtered. */
function keySource (keys: Array<{ kid: string, alg: string, key: CryptoKey }>): VerificationKeySource & { asked: Array<[string, string | undefined]> } {
  return {
    asked: [],
    async verificationKeys (alg, kid) {
      this.asked.push([alg, kid])
      return keys.filter((k) => k.alg === alg && (kid === undefined || k.kid === kid)).map((k) => KeyObject.from(k.key))
    },
  }
}

const es256 = await generateKeyPair('ES256', { extractable: true })
const ps256 = await generateKeyPair('PS256')
const stranger = await generateKeyPair('ES256')
const jwtKeys = keySource([{ kid: 'k1', alg: 'ES256', key: es256.publicKey }, { kid: 'k2', alg: 'PS256', key: ps256.publicKey }])

const pki = createTestPki()
t.teardown(() => pki.remove())
const ca = pki.authority('Client CA')
const certificate = (options: Parameters<typeof ca.issue>[1]): X509Certificate => new X509Certificate(ca.issue('app', { usage: 'client', ...options }).cert)
const appCert = certificate({
  subject: '/C=DE/O=Acme, Inc./OU=Payments+UID=42/CN=app.acme.example',
  dns: ['app.acme.example', 'Other.Example'],
  uri: ['https://app.acme.example/client'],
  email: ['Ops@Acme.Example'],
  ip: ['2001:db8::10', '192.0.2.7'],
})
const otherCert = certificate({ subject: '/C=DE/O=Acme, Inc./OU=Payments+UID=43/CN=app.acme.example', dns: ['another.example'] })

const CLIENTS: Record<string, ClientCredentials> = {
  basic: { tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: SECRET },
  'with:colon+plus': { tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: SECRET },
  post: { tokenEndpointAuthMethod: 'client_secret_post', clientSecret: SECRET },
  nosecret: { tokenEndpointAuthMethod: 'client_secret_post' },
  jwt: { tokenEndpointAuthMethod: 'private_key_jwt', verificationKeys: jwtKeys },
  nokeys: { tokenEndpointAuthMethod: 'private_key_jwt' },
  dn: { tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSubjectDn: 'cn=APP.acme.example,  uid=42+ou=payments,O=Acme\\2C Inc.,C=DE' },
  dns: { tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSanDns: 'OTHER.example' },
  uri: { tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSanUri: 'https://app.acme.example/client' },
  ip: { tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSanIp: '2001:DB8:0::10' },
  email: { tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSanEmail: 'Ops@acme.example' },
  twofields: { tokenEndpointAuthMethod: 'tls_client_auth', tlsClientAuthSanDns: 'app.acme.example', tlsClientAuthSanUri: 'https://app.acme.example/client' },
}
const clients = (clientId: string): ClientCredentials | undefined => CLIENTS[clientId]

function policy (overrides: Partial<ClientAuthenticationPolicy> = {}): ClientAuthenticationPolicy {
  return { issuer: ISSUER, replay: fakeStore(), now: () => NOW_MS, clockToleranceSeconds: 10, allowedAssertionAlgs: ['ES256', 'PS256', 'EdDSA', 'HS256'], ...overrides }
}

function input (parameters: ParameterList, options: { authorization?: string, certificate?: X509Certificate } = {}): ClientAuthenticationInput {
  return { authorization: options.authorization, parameters, clientCertificate: options.certificate }
}

/** What oauth4webapi's client authentication puts in the body and the headers. */
async function byOauth4webapi (clientAuth: oauth.ClientAuth, clientId: string): Promise<{ parameters: ParameterList, authorization: string | undefined }> {
  const body = new URLSearchParams(PUSHED as Array<[string, string]>)
  const headers = new Headers()
  await clientAuth({ issuer: ISSUER }, { client_id: clientId, [oauth.clockSkew]: NOW - Math.floor(Date.now() / 1000) }, body, headers)
  return { parameters: [...body], authorization: headers.get('authorization') ?? undefined }
}

function basic (clientId: string, secret: string): string {
  const form = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+')
  return 'Basic ' + Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64')
}

async function assertion (claims: JWTPayload, header: Record<string, unknown> = { alg: 'ES256', kid: 'k1' }, key: CryptoKey = es256.privateKey): Promise<string> {
  return await new SignJWT({ iss: 'jwt', sub: 'jwt', aud: ISSUER, jti: crypto.randomUUID(), iat: NOW, exp: NOW + 60, ...claims })
    .setProtectedHeader(header as { alg: string }).sign(key)
}

const jwtBody = (token: string, extra: ParameterList = []): ParameterList => [...PUSHED, ['client_id', 'jwt'], ['client_assertion_type', JWT_BEARER_ASSERTION_TYPE], ['client_assertion', token], ...extra]

async function refused (t: Test, promise: Promise<unknown>, message: string | RegExp, basicAttempted = false): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  t.type(error, ClientAuthenticationFailed, String(message))
  t.match(error, { code: 'invalid_client', status: 401, oauthError: 'invalid_client', redirectable: false, message, basicAttempted })
}

async function refusedPlain (t: Test, promise: Promise<unknown>, message: string | RegExp, name = String(message)): Promise<void> {
  await t.rejects(promise, { code: 'invalid_client', status: 401, message }, name)
}

t.test('client_secret_basic made by oauth4webapi, with form-urlencoded special characters', async (t) => {
  const sent = await byOauth4webapi(oauth.ClientSecretBasic(SECRET), 'with:colon+plus')
  t.match(Buffer.from(sent.authorization!.slice(6), 'base64').toString(), /^with%3Acolon%2Bplus:/, 'the id is form-urlencoded: %3A')
  const result = await authenticateClient(input(sent.parameters, { authorization: sent.authorization }), clients, policy())
  t.same(result, { clientId: 'with:colon+plus', method: 'client_secret_basic', parameters: PUSHED })
})

t.test('client_secret_basic: + is a space, %3A a colon, the first raw colon splits, the scheme in any case', async (t) => {
  const spaced = { 'a b': { tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 'x:y z' } as ClientCredentials }
  const raw = 'basic   ' + Buffer.from('a+b:x:y+z').toString('base64')
  t.equal((await authenticateClient(input(PUSHED, { authorization: raw }), (id) => spaced[id as 'a b'], policy())).clientId, 'a b')
  t.equal((await authenticateClient(input(PUSHED, { authorization: basic('basic', SECRET) }), clients, policy())).method, 'client_secret_basic')
  const unpadded = basic('basic', SECRET).replace(/=+$/, '')
  t.equal((await authenticateClient(input(PUSHED, { authorization: unpadded }), clients, policy())).clientId, 'basic', 'padding may be left out')
  const withBodyId = await authenticateClient(input([...PUSHED, ['client_id', 'basic']], { authorization: basic('basic', SECRET) }), clients, policy())
  t.same(withBodyId.parameters, [...PUSHED, ['client_id', 'basic']], 'a client_id in the body is kept')
})

t.test('client_secret_basic refusals carry basicAttempted, never the secret', async (t) => {
  const wrong = 'wrong-secret-value'
  await refused(t, authenticateClient(input(PUSHED, { authorization: basic('basic', wrong) }), clients, policy()), 'the client secret of basic is wrong', true)
  const error = await authenticateClient(input(PUSHED, { authorization: basic('basic', wrong) }), clients, policy()).catch((e: Error) => e)
  t.notOk(JSON.stringify({ ...error, message: (error as Error).message }).includes(wrong))
  await refused(t, authenticateClient(input(PUSHED, { authorization: basic('basic', SECRET.slice(0, -1)) }), clients, policy()), 'the client secret of basic is wrong', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Bearer abc' }), clients, policy()), 'the Authorization header must be Basic credentials', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Basic a*b' }), clients, policy()), 'the Authorization header must be Basic credentials', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Basic ' + Buffer.from([0x62, 0x3a, 0xff]).toString('base64') }), clients, policy()), 'the Basic credentials are not UTF-8', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Basic ' + Buffer.from('no-colon').toString('base64') }), clients, policy()), 'the Basic credentials must be base64 of client_id:client_secret', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Basic YmFzaWM6eB' }), clients, policy()), 'the Basic credentials must be base64 of client_id:client_secret', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Basic ' + Buffer.from('basic:%zz').toString('base64') }), clients, policy()), 'the Basic credentials must be form-urlencoded client_id and client_secret', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: 'Basic ' + Buffer.from(':x').toString('base64') }), clients, policy()), 'the Basic credentials have an empty client_id', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: basic('nobody', SECRET) }), clients, policy()), 'client nobody is not registered at the gateway', true)
  await refused(t, authenticateClient(input(PUSHED, { authorization: basic('post', SECRET) }), clients, policy()), 'client post must authenticate with client_secret_post, not client_secret_basic', true)
  await refused(t, authenticateClient(input([...PUSHED, ['client_id', 'post']], { authorization: basic('basic', SECRET) }), clients, policy()), 'client_id in the body is not the client that authenticated', true)
})

t.test('client_secret_post made by oauth4webapi; the secret is not passed on', async (t) => {
  const sent = await byOauth4webapi(oauth.ClientSecretPost(SECRET), 'post')
  t.ok(sent.parameters.some(([name]) => name === 'client_secret'))
  const result = await authenticateClient(input(sent.parameters), clients, policy())
  t.same(result, { clientId: 'post', method: 'client_secret_post', parameters: [...PUSHED, ['client_id', 'post']] })
})

t.test('client_secret_post refusals', async (t) => {
  const body = (id: string | undefined, secret: string): ParameterList => [...PUSHED, ...(id === undefined ? [] : [['client_id', id] as const]), ['client_secret', secret]]
  await refused(t, authenticateClient(input(body('post', 'nope')), clients, policy()), 'the client secret of post is wrong')
  await refused(t, authenticateClient(input(body(undefined, SECRET)), clients, policy()), 'client_id is missing')
  await refused(t, authenticateClient(input(body('basic', SECRET)), clients, policy()), 'client basic must authenticate with client_secret_basic, not client_secret_post')
  await refused(t, authenticateClient(input(body('nosecret', SECRET)), clients, policy()), 'the client secret of nosecret is wrong', false)
  await t.rejects(authenticateClient(input([...body('post', SECRET), ['client_secret', SECRET]]), clients, policy()), { code: 'duplicate_parameter', message: 'parameter client_secret must not be sent more than once' })
  await refused(t, authenticateClient(input([...PUSHED, ['client_id', 'post'], ['client_secret', '']]), clients, policy()), 'client authentication is required', false)
})

t.test('two methods at once are refused (RFC 6749 §2.3)', async (t) => {
  const several = 'the client must use exactly one authentication method, not several (Authorization header, client_secret, client_assertion)'
  await refused(t, authenticateClient(input([...PUSHED, ['client_secret', SECRET]], { authorization: basic('basic', SECRET) }), clients, policy()), several, true)
  const token = await assertion({})
  await refused(t, authenticateClient(input(jwtBody(token), { authorization: basic('basic', SECRET) }), clients, policy()), several, true)
  await refused(t, authenticateClient(input([...jwtBody(token), ['client_secret', SECRET]]), clients, policy()), several)
  const withCertificate = await authenticateClient(input(jwtBody(token), { certificate: appCert }), clients, policy())
  t.equal(withCertificate.method, 'private_key_jwt', 'a certificate beside an assertion is not a second method (certificate-bound tokens)')
})

t.test('private_key_jwt made by oauth4webapi (ES256 and PS256) and by jose', async (t) => {
  for (const [key, kid] of [[es256.privateKey, 'k1'], [ps256.privateKey, 'k2']] as const) {
    const sent = await byOauth4webapi(oauth.PrivateKeyJwt({ key, kid }), 'jwt')
    const store = fakeStore()
    const result = await authenticateClient(input(sent.parameters), clients, policy({ replay: store }))
    t.same(result, { clientId: 'jwt', method: 'private_key_jwt', parameters: [...PUSHED, ['client_id', 'jwt']] }, `oauth4webapi ${kid}`)
    t.equal(store.calls.length, 1)
    t.match(store.calls[0], ['client_assertion_jti', 'jwt', /.+/, NOW + 60 + 10], 'kept until exp plus the tolerance')
  }
  const typed = await assertion({}, { alg: 'ES256', kid: 'k1', typ: 'client-authentication+jwt' })
  t.equal((await authenticateClient(input(jwtBody(typed)), clients, policy())).clientId, 'jwt', 'typ client-authentication+jwt')
  const mediaType = await assertion({}, { alg: 'ES256', typ: 'application/Client-Authentication+JWT' })
  t.equal((await authenticateClient(input(jwtBody(mediaType)), clients, policy())).clientId, 'jwt', 'typ as a media type, any case, no kid')
  const plainJwt = await assertion({ nbf: NOW + 5, iat: NOW + 5 }, { alg: 'ES256', typ: 'JWT' })
  t.equal((await authenticateClient(input(jwtBody(plainJwt)), clients, policy())).clientId, 'jwt', 'typ JWT; nbf and iat 5 s ahead (FAPI 2.0: up to 10 s accepted)')
  const noBodyId = await assertion({})
  const result = await authenticateClient(input([...PUSHED, ['client_assertion_type', JWT_BEARER_ASSERTION_TYPE], ['client_assertion', noBodyId]]), clients, policy())
  t.same(result, { clientId: 'jwt', method: 'private_key_jwt', parameters: PUSHED }, 'client_id found from iss when the body has none; the assertion is not passed on')
})

t.test('private_key_jwt: the audience is the issuer, as a single string (FAPI 2.0, RFC 7523bis)', async (t) => {
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ aud: `${ISSUER}/par` }))), clients, policy()), `client_assertion aud must be the issuer ${ISSUER}`)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ aud: `${ISSUER}/` }))), clients, policy()), `client_assertion aud must be the issuer ${ISSUER}`)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ aud: [ISSUER, `${ISSUER}/token`] }))), clients, policy()), `client_assertion aud must be the issuer ${ISSUER} as a single string, not an array`)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ aud: [ISSUER] }))), clients, policy()), /not an array/)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ aud: undefined }))), clients, policy()), `client_assertion aud must be the issuer ${ISSUER}`)
})

t.test('private_key_jwt: times', async (t) => {
  const at = async (claims: JWTPayload, message: string | RegExp): Promise<void> => { await refusedPlain(t, authenticateClient(input(jwtBody(await assertion(claims))), clients, policy()), message) }
  await at({ exp: NOW - 10 }, 'client_assertion has expired (exp)')
  t.equal((await authenticateClient(input(jwtBody(await assertion({ exp: NOW - 9, iat: NOW - 60 }))), clients, policy())).clientId, 'jwt', 'expired within the tolerance')
  await at({ exp: undefined }, 'client_assertion must have a numeric exp claim')
  await at({ exp: 'soon' as unknown as number }, 'client_assertion must have a numeric exp claim')
  await at({ exp: NOW + MAX_ASSERTION_LIFETIME_S + 11 }, `client_assertion exp must be at most ${MAX_ASSERTION_LIFETIME_S} seconds ahead`)
  await at({ nbf: NOW + 11 }, 'client_assertion nbf is in the future')
  await at({ iat: NOW + 11 }, 'client_assertion iat is in the future')
  await at({ iat: 'now' as unknown as number }, 'client_assertion iat claim must be a number')
  await at({ nbf: NOW + 60, exp: NOW + 60 }, /nbf is in the future|nbf must be before its exp/)
  await at({ iat: NOW + 5, exp: NOW + 5 }, 'client_assertion iat must be before its exp')
})

t.test('private_key_jwt: jti required and used once', async (t) => {
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ jti: undefined }))), clients, policy()), `client_assertion must have a jti claim, a string of 1 to ${MAX_JTI_CHARS} characters`)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ jti: '' }))), clients, policy()), /must have a jti claim/)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ jti: 'x'.repeat(MAX_JTI_CHARS + 1) }))), clients, policy()), /must have a jti claim/)
  const store = fakeStore()
  const token = await assertion({ jti: 'once' })
  await authenticateClient(input(jwtBody(token)), clients, policy({ replay: store }))
  await refusedPlain(t, authenticateClient(input(jwtBody(token)), clients, policy({ replay: store })), 'client_assertion was already used (its jti was seen before)')
  const sameJtiOtherClient = { other: { tokenEndpointAuthMethod: 'private_key_jwt', verificationKeys: jwtKeys } as ClientCredentials }
  const other = await assertion({ jti: 'once', iss: 'other', sub: 'other' })
  t.equal((await authenticateClient(input([['client_id', 'other'], ['client_assertion_type', JWT_BEARER_ASSERTION_TYPE], ['client_assertion', other]]), (id) => sameJtiOtherClient[id as 'other'], policy({ replay: store }))).clientId, 'other', 'jtis are per client')
  store.down = true
  await t.rejects(authenticateClient(input(jwtBody(await assertion({}))), clients, policy({ replay: store })), { message: 'replay store down' }, 'a store that cannot answer propagates')
})

t.test('private_key_jwt: algorithms, keys and signatures', async (t) => {
  const unsigned = (claims: JWTPayload): string => `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'jwt', sub: 'jwt', aud: ISSUER, exp: NOW + 60, jti: 'n', ...claims })).toString('base64url')}.`
  await refusedPlain(t, authenticateClient(input(jwtBody(unsigned({}))), clients, policy()), 'client_assertion must be signed: alg none is not accepted')
  const hs = await new SignJWT({ iss: 'jwt', sub: 'jwt', aud: ISSUER, exp: NOW + 60, jti: 'h' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
  await refusedPlain(t, authenticateClient(input(jwtBody(hs)), clients, policy()), "client_assertion must be signed with the client's private key, not HS256 (private_key_jwt)")
  const client = await byOauth4webapi(oauth.ClientSecretJwt(SECRET), 'jwt')
  await refusedPlain(t, authenticateClient(input(client.parameters), clients, policy()), /not HS256/)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'PS256', kid: 'k2' }, ps256.privateKey))), clients, policy({ allowedAssertionAlgs: ['ES256'] })), 'client_assertion alg PS256 is not accepted; use one of ES256')
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'ES256', kid: 'k1' }, stranger.privateKey))), clients, policy()), "client_assertion signature does not verify with the client's registered keys")
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'ES256' }, stranger.privateKey))), clients, policy()), /does not verify/)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'ES256', kid: 'k9' }))), clients, policy()), 'no registered key of the client fits client_assertion alg ES256 and kid k9')
  const ed = await generateKeyPair('EdDSA')
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'EdDSA' }, ed.privateKey))), clients, policy()), 'no registered key of the client fits client_assertion alg EdDSA')
  const token = await assertion({})
  const [h, , s] = token.split('.') as [string, string, string]
  const otherPayload = Buffer.from(JSON.stringify({ iss: 'jwt', sub: 'jwt', aud: ISSUER, exp: NOW + 60, jti: 'changed' })).toString('base64url')
  await refusedPlain(t, authenticateClient(input(jwtBody(`${h}.${otherPayload}.${s}`)), clients, policy()), /does not verify/, 'another payload under the signature')
})

t.test('private_key_jwt: header and payload shapes', async (t) => {
  await refusedPlain(t, authenticateClient(input(jwtBody('a.b.c.d.e')), clients, policy()), 'client_assertion must be a signed JWT (JWS compact serialization)')
  await refusedPlain(t, authenticateClient(input(jwtBody('!!.e30.')), clients, policy()), 'client_assertion has an unreadable header')
  const noAlg = `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.e30.`
  await refusedPlain(t, authenticateClient(input(jwtBody(noAlg)), clients, policy()), /alg none is not accepted/)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'ES256', typ: 'oauth-authz-req+jwt' }))), clients, policy()), 'client_assertion typ must be client-authentication+jwt or JWT when present')
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({}, { alg: 'ES256', typ: 'dpop+jwt' }))), clients, policy()), /typ must be/)
  const b64 = await new CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'ES256', b64: true, crit: ['b64'] }).sign(es256.privateKey)
  await refusedPlain(t, authenticateClient(input(jwtBody(b64)), clients, policy()), 'client_assertion must not use the b64 header parameter')
  const notJson = await new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'ES256' }).sign(es256.privateKey)
  await refusedPlain(t, authenticateClient(input(jwtBody(notJson)), clients, policy()), 'client_assertion payload is not a JSON object')
  const array = await new CompactSign(new TextEncoder().encode('["jwt"]')).setProtectedHeader({ alg: 'ES256' }).sign(es256.privateKey)
  await refusedPlain(t, authenticateClient(input(jwtBody(array)), clients, policy()), 'client_assertion payload is not a JSON object')
  const nullPayload = await new CompactSign(new TextEncoder().encode('null')).setProtectedHeader({ alg: 'ES256' }).sign(es256.privateKey)
  await refusedPlain(t, authenticateClient(input(jwtBody(nullPayload)), clients, policy()), 'client_assertion payload is not a JSON object')
})

t.test('private_key_jwt: iss, sub, client_id and registration', async (t) => {
  const same = 'client_assertion iss and sub must both be the client_id'
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ iss: 'other' }))), clients, policy()), same)
  await refusedPlain(t, authenticateClient(input(jwtBody(await assertion({ sub: 'other' }))), clients, policy()), same)
  await refused(t, authenticateClient(input([['client_assertion_type', JWT_BEARER_ASSERTION_TYPE], ['client_assertion', 'x.y.z']]), clients, policy()), 'client_id is missing')
  await refused(t, authenticateClient(input([['client_assertion_type', JWT_BEARER_ASSERTION_TYPE], ['client_assertion', await assertion({ iss: 'post', sub: 'post' })]]), clients, policy()), 'client post must authenticate with client_secret_post, not private_key_jwt')
  await refused(t, authenticateClient(input([['client_id', 'jwt'], ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer'], ['client_assertion', await assertion({})]]), clients, policy()), `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`)
  await refused(t, authenticateClient(input([['client_id', 'jwt'], ['client_assertion', await assertion({})]]), clients, policy()), `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`)
  await refused(t, authenticateClient(input([['client_id', 'jwt'], ['client_assertion_type', JWT_BEARER_ASSERTION_TYPE]]), clients, policy()), 'client_assertion is missing')
  await t.rejects(authenticateClient(input([['client_id', 'nokeys'], ['client_assertion_type', JWT_BEARER_ASSERTION_TYPE], ['client_assertion', await assertion({ iss: 'nokeys', sub: 'nokeys' })]]), clients, policy()), { code: 'internal_error', message: 'client nokeys uses private_key_jwt but has no keys configured' })
  const token = await assertion({})
  const error = await authenticateClient(input(jwtBody(await assertion({ aud: 'x' }))), clients, policy()).catch((e: Error) => e)
  t.notOk((error as Error).message.includes(token.split('.')[2]!), 'the assertion is never in the message')
  await t.rejects(authenticateClient(input([...jwtBody(token), ['client_assertion', token]]), clients, policy()), { code: 'duplicate_parameter' })
})

t.test('tls_client_auth: each registered subject field matching, and not', async (t) => {
  for (const clientId of ['dn', 'dns', 'uri', 'ip', 'email']) {
    const result = await authenticateClient(input([...PUSHED, ['client_id', clientId]], { certificate: appCert }), clients, policy())
    t.same(result, { clientId, method: 'tls_client_auth', parameters: [...PUSHED, ['client_id', clientId]] }, `${clientId} matches`)
    await refused(t, authenticateClient(input([...PUSHED, ['client_id', clientId]], { certificate: otherCert }), clients, policy()), `the client certificate does not hold the subject registered for ${clientId}`)
  }
  await refused(t, authenticateClient(input([...PUSHED, ['client_id', 'dn']]), clients, policy()), 'a client certificate is required (tls_client_auth)')
  await refused(t, authenticateClient(input([...PUSHED, ['client_id', 'post']]), clients, policy()), 'client authentication is required')
  await refused(t, authenticateClient(input(PUSHED, { certificate: appCert }), clients, policy()), 'client_id is missing')
  await refused(t, authenticateClient(input([...PUSHED, ['client_id', 'basic']], { certificate: appCert }), clients, policy()), 'client basic must authenticate with client_secret_basic, not tls_client_auth')
  await t.rejects(authenticateClient(input([['client_id', 'twofields']], { certificate: appCert }), clients, policy()), { code: 'internal_error', message: /^client twofields tls_client_auth registration: exactly one of tls_client_auth_subject_dn/ })
})

t.test('the authentication parameters are the ones removed, nothing else', async (t) => {
  t.same([...AUTHENTICATION_PARAMETERS].sort(), ['client_assertion', 'client_assertion_type', 'client_secret'])
  const body: ParameterList = [['a', '1'], ['client_secret', SECRET], ['a', '2'], ['client_id', 'post'], ['b', '']]
  t.same((await authenticateClient(input(body), clients, policy())).parameters, [['a', '1'], ['a', '2'], ['client_id', 'post'], ['b', '']])
  t.ok(jwtKeys.asked.some(([alg, kid]) => alg === 'ES256' && kid === 'k1'), 'the key source was asked for the header alg and kid')
})

t.test('without an injected clock the real one is used', async (t) => {
  const body = new URLSearchParams(PUSHED as Array<[string, string]>)
  await oauth.PrivateKeyJwt({ key: es256.privateKey, kid: 'k1' })({ issuer: ISSUER }, { client_id: 'jwt' }, body, new Headers())
  const { now: _now, ...realClock } = policy()
  t.equal((await authenticateClient(input([...body]), clients, realClock)).clientId, 'jwt')
})
