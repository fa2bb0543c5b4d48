// FAPI 1.0 Advanced request objects by value (RFC 9101 §5.1), end to end with real parts: a real
// oidc-provider with JAR, PAR and JARM all off, the gateway in front adding all three, oauth4webapi
// as the FAPI client (issueRequestObject, validateJwtAuthResponse, private_key_jwt at the legacy
// token endpoint). The good objects (PS256, ES256, aud as an array, encrypted to the gateway) give a
// JARM response and a code the legacy server redeems; the OpenID conformance suite's bad objects
// come back as JARM errors to the redirect_uri the config vouches for, or as an error page where
// nothing does. The legacy server never sees `request` or a JWT response mode.
import t, { type Test } from 'tap'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { CompactEncrypt, CompactSign, decodeJwt, exportJWK, importJWK, type CryptoKey, type JWK } from 'jose'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import {
  authorizationUrl, byValue, ecKey, ES_KEY, errorPageOf, FAPI_ES, FAPI_OPEN, FAPI_PAR, FAPI_PS, FAPI_REDIRECT_URI, fapiParameters, IMPOSTOR_KEY, jarmError,
  OPEN_KEY, PAR_KEY, PAR_PATH, PS_KEY, redeemAt, startFapiStack, type CodeFlow,
} from '../helpers/fapi-stack.js'
import { discover, judge, oauth } from '../helpers/judge.js'
import { TEST_KEYS } from '../helpers/stack.js'

/** A gateway key for encrypted request objects (RFC 9101 §6.1), published with use enc. */
const { privateKey: encPrivate } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const gatewayEncJwk: JWK = { ...await exportJWK(encPrivate), kid: 'gateway-enc', use: 'enc', alg: 'RSA-OAEP-256' }

/** What reached the legacy server's authorization endpoint. */
const legacyAuthorizations: URLSearchParams[] = []
const stack = await startFapiStack({
  config: { keys: { keys: [...TEST_KEYS.keys, gatewayEncJwk] } },
  onLegacyRequest: (req) => {
    const url = new URL(req.url!, 'http://legacy')
    if (url.pathname === '/auth') legacyAuthorizations.push(url.searchParams)
  },
})
t.teardown(() => stack.close())
const as = await discover(stack.issuer)
const now = (): number => Math.floor(Date.now() / 1000)

/** A good FAPI request object's claims for this flow, as a careful client makes them (jose, not oauth4webapi). */
function claimsOf (client: oauth.Client, flow: CodeFlow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const at = now()
  return { iss: client.client_id, aud: as.issuer, ...flow.parameters, iat: at, nbf: at, exp: at + 300, jti: randomUUID(), ...extra }
}

async function sign (claims: Record<string, unknown>, key: CryptoKey, alg: string, kid: string): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg, kid, typ: 'oauth-authz-req+jwt' }).sign(key)
}

/** Sends the object by value and follows the browser to where the flow leaves the gateway. */
function send (clientId: string, request: string, outer: Record<string, string> = {}): ReturnType<BrowserAgent['run']> {
  return new BrowserAgent().run(authorizationUrl(as, { ...byValue(clientId, request), ...outer }))
}

/** A full good flow: JARM judged by oauth4webapi, the state and code from the object, the code redeemed. */
async function goodFlow (t: Test, client: oauth.Client, flow: CodeFlow, request: string, outer: Record<string, string> = {}): Promise<void> {
  const before = legacyAuthorizations.length
  const arrival = await send(client.client_id, request, outer)
  const parameters = callbackParameters(arrival)
  t.same([...parameters.keys()], ['response'], 'a JARM response: only `response`')
  const callback = await judge(as, client, parameters, flow.state)
  t.equal(decodeJwt(parameters.get('response')!).iss, as.issuer)
  const forwarded = legacyAuthorizations[before]
  t.ok(forwarded, 'the request reached the legacy server')
  t.notOk(forwarded?.has('request'), 'as plain parameters: the legacy server has no JAR')
  t.not(forwarded?.get('response_mode'), 'jwt', 'and no JWT mode: it has no JARM')
  t.equal(forwarded?.get('redirect_uri'), FAPI_REDIRECT_URI)
  const tokens = await redeemAt(as, client, callback, flow)
  t.ok(tokens.access_token, 'the legacy server redeems the code for the client authenticated with private_key_jwt')
  t.equal(oauth.getValidatedIdTokenClaims(tokens)?.['nonce'], flow.nonce, 'the nonce of the object')
}

/** A refusal as a JARM error (verified by oauth4webapi) to the redirect_uri the config vouches for. */
async function refusedAsJarm (t: Test, client: oauth.Client, request: string, error: string, because: RegExp, outer: Record<string, string> = {}): Promise<void> {
  const before = legacyAuthorizations.length
  const refusal = await jarmError(as, client, await send(client.client_id, request, outer))
  t.equal(refusal.error, error)
  t.match(refusal.description, because, 'for the reason the test means')
  t.equal(refusal.redirectedTo, FAPI_REDIRECT_URI, "to the client's configured redirect_uri")
  t.equal(legacyAuthorizations.length, before, 'the legacy server never saw it')
}

t.test('discovery through the gateway offers request objects and its own PAR endpoint', async (t) => {
  t.equal(as.request_parameter_supported, true)
  const algs = as.request_object_signing_alg_values_supported ?? []
  t.ok(algs.includes('PS256') && algs.includes('ES256'), `PS256 and ES256 among ${algs.join(', ')}`)
  t.notOk(algs.includes('none'), 'never none')
  t.ok(as.request_object_encryption_alg_values_supported?.includes('RSA-OAEP-256'), 'the use:enc key allows RSA-OAEP-256')
  t.ok((as.request_object_encryption_enc_values_supported?.length ?? 0) > 0)
  t.equal(as.pushed_authorization_request_endpoint, `${as.issuer}${PAR_PATH}`, 'the legacy server has no PAR: the gateway serves it')
  t.notOk(as.require_pushed_authorization_requests, 'not every client must push')
  const jwks = await (await fetch(as.jwks_uri!)).json() as { keys: JWK[] }
  t.match(jwks.keys.find((key) => key.kid === 'gateway-enc'), { use: 'enc', alg: 'RSA-OAEP-256' }, 'the encryption key is published')
  t.notOk(jwks.keys.find((key) => key.kid === 'gateway-enc')?.d, 'without its private part')
})

t.test('FAPI 1.0 Advanced: a PS256 object by value with response_mode=jwt, oauth4webapi issueRequestObject', async (t) => {
  const flow = await fapiParameters('fapi-ps')
  await goodFlow(t, FAPI_PS, flow, await oauth.issueRequestObject(as, FAPI_PS, flow.parameters, PS_KEY.key))
})

t.test('FAPI 1.0 Advanced: an ES256 object asking for form_post.jwt', async (t) => {
  const flow = await fapiParameters('fapi-es', { response_mode: 'form_post.jwt' })
  const arrival = await send('fapi-es', await oauth.issueRequestObject(as, FAPI_ES, flow.parameters, ES_KEY.key))
  t.equal(arrival.kind, 'form', 'the mode of the object, not a default')
  t.equal(arrival.kind === 'form' ? arrival.action : '', FAPI_REDIRECT_URI)
  const callback = await judge(as, FAPI_ES, callbackParameters(arrival), flow.state)
  t.ok((await redeemAt(as, FAPI_ES, callback, flow)).access_token)
})

t.test('aud as an array holding the issuer is accepted', async (t) => {
  const flow = await fapiParameters('fapi-es')
  await goodFlow(t, FAPI_ES, flow, await sign(claimsOf(FAPI_ES, flow, { aud: ['https://elsewhere.example.com', as.issuer] }), ES_KEY.key.key, 'ES256', ES_KEY.kid))
})

t.test('an nbf a few seconds in the future (a client clock slightly ahead) is accepted', async (t) => {
  const flow = await fapiParameters('fapi-es')
  await goodFlow(t, FAPI_ES, flow, await sign(claimsOf(FAPI_ES, flow, { nbf: now() + 5, iat: now() + 5 }), ES_KEY.key.key, 'ES256', ES_KEY.kid))
})

t.test('a signed object encrypted to the gateway use:enc key (RSA-OAEP-256, A256GCM) is decrypted first', async (t) => {
  const flow = await fapiParameters('fapi-ps')
  const signed = await oauth.issueRequestObject(as, FAPI_PS, flow.parameters, PS_KEY.key)
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = gatewayEncJwk
  const encrypted = await new CompactEncrypt(new TextEncoder().encode(signed))
    .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gateway-enc', cty: 'JWT' })
    .encrypt(await importJWK(publicJwk, 'RSA-OAEP-256'))
  await goodFlow(t, FAPI_PS, flow, encrypted)
})

t.test('a state sent only outside the object does not come back (RFC 9101 §6.3)', async (t) => {
  const flow = await fapiParameters('fapi-ps')
  const { state: _state, ...inner } = flow.parameters
  const arrival = await send('fapi-ps', await oauth.issueRequestObject(as, FAPI_PS, inner, PS_KEY.key), { state: 'state-only-outside' })
  const parameters = callbackParameters(arrival)
  t.equal(decodeJwt(parameters.get('response')!)['state'], undefined, 'no state in the response')
  const callback = await judge(as, FAPI_PS, parameters, oauth.expectNoState)
  t.ok((await redeemAt(as, FAPI_PS, callback, flow)).access_token)
})

t.test('outer parameters a FAPI 1.0 client repeats must agree with the object', async (t) => {
  const flow = await fapiParameters('fapi-ps')
  const request = await oauth.issueRequestObject(as, FAPI_PS, flow.parameters, PS_KEY.key)
  await refusedAsJarm(t, FAPI_PS, request, 'invalid_request_object', /response_type/, { response_type: 'code id_token' })
})

/** The conformance suite's bad objects (FAPI 1.0 Advanced final, FAPI 2.0 Message Signing). */
const badObjects: Array<{ name: string, because: RegExp, client: oauth.Client, make: (flow: CodeFlow) => Promise<string> }> = [
  {
    name: 'missing exp', because: /exp is required/,
    client: FAPI_PS,
    make: async (flow) => oauth.issueRequestObject(as, FAPI_PS, flow.parameters, PS_KEY.key, { [oauth.modifyAssertion]: (_header, payload) => { delete payload.exp } }),
  },
  {
    name: 'missing nbf', because: /nbf is required/,
    client: FAPI_PS,
    make: async (flow) => oauth.issueRequestObject(as, FAPI_PS, flow.parameters, PS_KEY.key, { [oauth.modifyAssertion]: (_header, payload) => { delete payload.nbf } }),
  },
  { name: 'exp more than 60 minutes after nbf', because: /exp is more than 3600 seconds after its nbf/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { exp: now() + 3660 }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
  { name: 'nbf more than 60 minutes old', because: /nbf is more than 3600 seconds in the past/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { nbf: now() - 3660, iat: now() - 3660, exp: now() + 60 }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
  { name: 'a wrong aud', because: /aud/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { aud: 'https://other-server.example.com' }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
  { name: 'aud = the PAR endpoint URL', because: /aud/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { aud: `${as.issuer}${PAR_PATH}` }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
  { name: 'expired', because: /expired/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { iat: now() - 600, nbf: now() - 600, exp: now() - 120 }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
  { name: "another key's signature (same kid)", because: /signature/, client: FAPI_ES, make: async (flow) => oauth.issueRequestObject(as, FAPI_ES, flow.parameters, IMPOSTOR_KEY.key) },
  {
    name: 'alg none', because: /none/,
    client: FAPI_ES,
    make: async (flow) => {
      const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
      return `${part({ alg: 'none', typ: 'oauth-authz-req+jwt' })}.${part(claimsOf(FAPI_ES, flow))}.`
    },
  },
  { name: 'RS256 where PS256 is registered (same RSA key)', because: /RS256.*PS256/, client: FAPI_PS, make: async (flow) => sign(claimsOf(FAPI_PS, flow), PS_KEY.rs256, 'RS256', PS_KEY.kid) },
  { name: 'iss another client', because: /iss/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { iss: 'fapi-ps' }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
  { name: 'a request_uri inside the object', because: /request_uri/, client: FAPI_ES, make: async (flow) => sign(claimsOf(FAPI_ES, flow, { request_uri: 'urn:ietf:params:oauth:request_uri:x' }), ES_KEY.key.key, 'ES256', ES_KEY.kid) },
]

for (const { name, because, client, make } of badObjects) {
  t.test(`refused, as a JARM invalid_request_object: ${name}`, async (t) => {
    const flow = await fapiParameters(client.client_id)
    await refusedAsJarm(t, client, await make(flow), 'invalid_request_object', because)
  })
}

t.test('a bad object of a client whose redirect_uri nothing vouches for: an error page, no redirect', async (t) => {
  const flow = await fapiParameters('fapi-open', { redirect_uri: 'https://attacker.example.net/cb' })
  // Another key under fapi-open's own kid, so the signature itself is what fails.
  const forged = await oauth.issueRequestObject(as, FAPI_OPEN, flow.parameters, (await ecKey(OPEN_KEY.kid)).key)
  const page = errorPageOf(await send('fapi-open', forged, { redirect_uri: 'https://attacker.example.net/cb' }))
  t.equal(page.status, 400)
  t.match(page.text, /invalid_request_object/)
  t.match(page.text, /signature/, 'for its signature')
})

t.test('a good object of that client vouches for its own redirect_uri', async (t) => {
  const flow = await fapiParameters('fapi-open')
  await goodFlow(t, FAPI_OPEN, flow, await oauth.issueRequestObject(as, FAPI_OPEN, flow.parameters, OPEN_KEY.key))
})

t.test('policy: require_signed_request_object refuses a plain request, as JARM to the vouched redirect_uri', async (t) => {
  const flow = await fapiParameters('fapi-ps')
  const before = legacyAuthorizations.length
  const refusal = await jarmError(as, FAPI_PS, await new BrowserAgent().run(authorizationUrl(as, flow.parameters)))
  t.equal(refusal.error, 'invalid_request_object')
  t.equal(refusal.redirectedTo, FAPI_REDIRECT_URI)
  t.equal(legacyAuthorizations.length, before)
})

t.test('policy: require_signed_request_object with an unvouched redirect_uri: an error page', async (t) => {
  const flow = await fapiParameters('fapi-ps', { redirect_uri: 'https://attacker.example.net/cb' })
  const page = errorPageOf(await new BrowserAgent().run(authorizationUrl(as, flow.parameters)))
  t.equal(page.status, 400, 'refused (for the missing object or the unknown redirect_uri), never redirected')
  t.match(page.text, /<code>invalid_request(_object)?<\/code>/)
})

t.test('policy: response_modes (JWT only) refuses response_mode=query inside a verified object', async (t) => {
  const flow = await fapiParameters('fapi-ps', { response_mode: 'query' })
  await refusedAsJarm(t, FAPI_PS, await oauth.issueRequestObject(as, FAPI_PS, flow.parameters, PS_KEY.key), 'invalid_request', /response_mode query/)
})

t.test('policy: require_pushed_authorization_requests refuses a good object by value', async (t) => {
  const flow = await fapiParameters('fapi-par')
  await refusedAsJarm(t, FAPI_PAR, await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key), 'invalid_request', /require_pushed_authorization_requests/)
})

t.test('a plain JARM flow of an ordinary client is untouched by all this', async (t) => {
  const flow = await fapiParameters('app1', { redirect_uri: 'https://client.example.org/cb' })
  const arrival = await new BrowserAgent().run(authorizationUrl(as, flow.parameters))
  const callback = await judge(as, { client_id: 'app1', authorization_signed_response_alg: 'ES256' }, callbackParameters(arrival), flow.state)
  t.ok(callback.get('code'))
})

