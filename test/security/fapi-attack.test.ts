// Attack review of issue 14 (JAR, PAR and client policy in front of a legacy server without them).
// Each test asserts the SAFE behaviour the README / SECURITY.md promise: a failing test is a finding.
// Real servers on port 0: oidc-provider (JAR, PAR, JARM off unless said) behind the gateway.
import t, { type Test } from 'tap'
import type { IncomingMessage } from 'node:http'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { CompactEncrypt, CompactSign, decodeJwt, decodeProtectedHeader, exportJWK, exportSPKI, importJWK, type CryptoKey, type JWK } from 'jose'
import { BrowserAgent, callbackParameters, type Arrival } from '../helpers/browser-agent.js'
import {
  AUTH, authorizationUrl, byValue, ecKey, ES_KEY, FAPI_ES, FAPI_OPEN, FAPI_PAR, FAPI_PS, FAPI_REDIRECT_URI, FAPI_SECRET, FAPI_SECRET_CLIENT,
  fapiParameters, GATEWAY_FAPI_CLIENTS, insecure, jarmError, OPEN_KEY, PAR_KEY, PAR_PATH, PS_KEY, rsaKey, startFapiStack, type CodeFlow,
} from '../helpers/fapi-stack.js'
import { discover, judge, oauth } from '../helpers/judge.js'
import { TEST_KEYS } from '../helpers/stack.js'

const now = (): number => Math.floor(Date.now() / 1000)
const EVIL = 'https://attacker.example.net/cb'
/** Every secret-ish value this file sends: none may appear in a log line. */
const secrets: string[] = [FAPI_SECRET]

/** A gateway key for encrypted request objects. */
const { privateKey: encPrivate } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const gatewayEncJwk: JWK = { ...await exportJWK(encPrivate), kid: 'gateway-enc', use: 'enc', alg: 'RSA-OAEP-256' }
const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...gatewayEncPublic } = gatewayEncJwk

/** A client with an RSA key and NO registered request_object_signing_alg (the HS256-with-public-key target). */
const ANY_KEY = await rsaKey('fapi-any-key')
const FAPI_ANY: oauth.Client = { client_id: 'fapi-any', authorization_signed_response_alg: 'ES256' }

/** Records the query of every authorization request and the body of every POST that reaches the legacy server. */
function recorder (): { auth: URLSearchParams[], posts: Array<{ path: string, body: URLSearchParams }>, hook: (req: IncomingMessage) => void } {
  const auth: URLSearchParams[] = []
  const posts: Array<{ path: string, body: URLSearchParams }> = []
  return {
    auth,
    posts,
    hook: (req) => {
      const url = new URL(req.url!, 'http://legacy')
      if (url.pathname.toLowerCase().replace(/\/+$/, '').replace(/^\/+/, '/') === '/auth') auth.push(url.searchParams)
      if (req.method !== 'POST') return
      let body = ''
      const emit = req.emit.bind(req) as (event: string, ...args: unknown[]) => boolean
      req.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'data') body += String(args[0])
        if (event === 'end') {
          posts.push({ path: url.pathname, body: new URLSearchParams(body) })
          if (url.pathname === '/auth') auth.push(new URLSearchParams(body))
        }
        return emit(event, ...args)
      }) as typeof req.emit
    },
  }
}

const legacyA = recorder()
const stack = await startFapiStack({
  config: {
    keys: { keys: [...TEST_KEYS.keys, gatewayEncJwk] },
    clients: {
      ...GATEWAY_FAPI_CLIENTS,
      'fapi-any': { authorization_signed_response_alg: 'ES256', jwks: { keys: [ANY_KEY.publicJwk] }, redirect_uris: [FAPI_REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt' },
    },
  },
  legacyClients: [{ client_id: 'fapi-any', redirect_uris: [FAPI_REDIRECT_URI], response_types: ['code'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [ANY_KEY.publicJwk as never] } }],
  onLegacyRequest: legacyA.hook,
})
t.teardown(() => stack.close())
const as = await discover(stack.issuer)
const parEndpoint = `${stack.issuer}${PAR_PATH}`

function claimsOf (clientId: string, flow: CodeFlow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const at = now()
  return { iss: clientId, aud: as.issuer, ...flow.parameters, iat: at, nbf: at, exp: at + 300, jti: randomUUID(), ...extra }
}

async function signRaw (payload: string, key: CryptoKey | Uint8Array, header: Record<string, unknown>): Promise<string> {
  const jwt = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader(header as never).sign(key)
  secrets.push(jwt)
  return jwt
}
const sign = async (claims: Record<string, unknown>, key: CryptoKey | Uint8Array, alg: string, kid?: string, extraHeader: Record<string, unknown> = {}): Promise<string> =>
  signRaw(JSON.stringify(claims), key, { alg, ...(kid === undefined ? {} : { kid }), typ: 'oauth-authz-req+jwt', ...extraHeader })

const part = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

function send (clientId: string, request: string, outer: Record<string, string> = {}, path?: string): Promise<Arrival> {
  const url = authorizationUrl(as, { ...byValue(clientId, request), ...outer })
  if (path !== undefined) url.pathname = path
  return new BrowserAgent().run(url)
}

/** The arrival does not hand the client a plain (unsigned) code, and the gateway redirected nowhere but the vouched redirect_uri. */
function noPlainCode (t: Test, arrival: Arrival, what: string): void {
  if (arrival.kind === 'redirect') {
    const parameters = callbackParameters(arrival)
    t.notOk(parameters.has('code'), `${what}: no plain code (got ${arrival.url.href.slice(0, 160)})`)
  } else if (arrival.kind === 'form') {
    t.notOk(arrival.fields.some(([name]) => name === 'code'), `${what}: no plain code in a form`)
  } else {
    t.pass(`${what}: ended on a ${arrival.status} page`)
  }
}

/** Refused: an error page, or a JARM error at the vouched redirect_uri; never the legacy server. */
async function refused (t: Test, client: oauth.Client, arrival: Arrival, because?: RegExp): Promise<void> {
  if (arrival.kind === 'page') {
    t.ok(arrival.status >= 400, `an error page (${arrival.status})`)
    if (because !== undefined) t.match(arrival.text, because)
    return
  }
  const refusal = await jarmError(as, client, arrival)
  t.equal(refusal.redirectedTo, FAPI_REDIRECT_URI, 'to the vouched redirect_uri')
  t.match(refusal.error, /^invalid_request(_object)?$/)
  if (because !== undefined) t.match(refusal.description, because)
}

async function pushed (who: oauth.Client, parameters: Record<string, string>, endpoint?: oauth.AuthorizationServer): Promise<Response> {
  return oauth.pushedAuthorizationRequest(endpoint ?? as, who, AUTH[who.client_id]!(), parameters, insecure)
}
async function pushedUri (who: oauth.Client, parameters: Record<string, string>): Promise<string> {
  const response = await pushed(who, parameters)
  const uri = (await oauth.processPushedAuthorizationResponse(as, who, response)).request_uri
  secrets.push(uri)
  return uri
}

async function postPar (body: Record<string, string>, headers: Record<string, string> = {}, endpoint = parEndpoint): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(endpoint, { method: 'POST', body: new URLSearchParams(body), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } })
  const text = await response.text()
  let parsed: Record<string, unknown> = {}
  try { parsed = JSON.parse(text) as Record<string, unknown> } catch { parsed = { raw: text } }
  return { status: response.status, body: parsed }
}
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

/** A private_key_jwt assertion made by hand. */
async function assertion (clientId: string, key: CryptoKey, alg: string, kid: string, extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const at = now()
  return signRaw(JSON.stringify({ iss: clientId, sub: clientId, aud: as.issuer, iat: at, exp: at + 60, jti: randomUUID(), ...extra }), key, { alg, kid, ...header })
}
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

// ---------------------------------------------------------------------------------------------
// Parameter smuggling beside a verified object: "only the object's parameters count".

t.test('smuggling: outer parameters beside a verified object never reach the legacy server', async (t) => {
  const flow = await fapiParameters('fapi-es')
  const request = await oauth.issueRequestObject(as, FAPI_ES, flow.parameters, ES_KEY.key)
  secrets.push(request)
  const before = legacyA.auth.length
  const outer = {
    state: 'evil-state', response_mode: 'query', nonce: 'evil-nonce', code_challenge: 'evil-challenge-evil-challenge-evil-challenge-e', prompt: 'none',
    login_hint: 'victim@example.com', acr_values: 'evil', Response_Mode: 'query', STATE: 'evil2', claims: '{"id_token":{"acr":{"essential":true}}}',
  }
  const arrival = await send('fapi-es', request, outer)
  const forwarded = legacyA.auth[before]
  t.ok(forwarded, 'reached the legacy server')
  const inner = new Set(['client_id', ...Object.keys(flow.parameters)])
  t.same([...forwarded!.keys()].filter((name) => !inner.has(name)), [], 'nothing but client_id and the object\'s parameters')
  t.notOk(forwarded!.toString().includes('evil'), 'no smuggled value')
  const parameters = callbackParameters(arrival)
  await judge(as, FAPI_ES, parameters, flow.state)
})

t.test('smuggling: outer client authentication parameters beside a verified object (front channel) are dropped', async (t) => {
  const flow = await fapiParameters('fapi-es')
  const request = await oauth.issueRequestObject(as, FAPI_ES, flow.parameters, ES_KEY.key)
  secrets.push(request)
  const before = legacyA.auth.length
  await send('fapi-es', request, { client_secret: 'smuggled-secret', client_assertion_type: JWT_BEARER, client_assertion: 'smuggled.assertion.value' })
  const forwarded = legacyA.auth[before]
  t.ok(forwarded, 'reached the legacy server')
  t.same(['client_secret', 'client_assertion', 'client_assertion_type'].filter((name) => forwarded!.has(name)), [],
    'README: "everything else outside ... is dropped": no unsigned client_secret / client_assertion rides along')
})

t.test('smuggling: repeats, empty values and case variants of `request` do not get a plain request past require_signed_request_object', async (t) => {
  const flow = await fapiParameters('fapi-ps', { response_mode: 'query' })
  const good = await oauth.issueRequestObject(as, FAPI_PS, (await fapiParameters('fapi-ps')).parameters, PS_KEY.key)
  const cases: Array<[string, URL]> = [
    ['empty request', authorizationUrl(as, { ...flow.parameters, request: '' })],
    ['Request (case)', authorizationUrl(as, { ...flow.parameters, Request: good })],
    ['REQUEST (case)', authorizationUrl(as, { ...flow.parameters, REQUEST: good })],
    ['empty request_uri', authorizationUrl(as, { ...flow.parameters, request_uri: '' })],
    ['request_uri by reference', authorizationUrl(as, { ...flow.parameters, request_uri: 'https://attacker.example.net/ro.jwt' })],
    ['URN in upper case', authorizationUrl(as, { ...flow.parameters, request_uri: 'URN:IETF:PARAMS:OAUTH:REQUEST_URI:abc' })],
  ]
  const repeated = authorizationUrl(as, flow.parameters)
  repeated.search += `&request=&request=${encodeURIComponent(good)}`
  cases.push(['request twice, one empty', repeated])
  const emptyClient = authorizationUrl(as, { ...flow.parameters })
  emptyClient.search += '&client_id='
  cases.push(['client_id twice, one empty', emptyClient])
  for (const [name, url] of cases) noPlainCode(t, await new BrowserAgent().run(url), name)
})

t.test('spellings: a plain request of a require_signed_request_object client under other spellings of the authorization endpoint gets no plain code', async (t) => {
  const flow = await fapiParameters('fapi-ps', { response_mode: 'query' })
  const query = new URLSearchParams(flow.parameters).toString()
  for (const path of ['/auth/', '/AUTH', '/Auth/', '/auth;jsessionid=x', '/auth.json', '/%61uth', '/auth%2F', '/./auth', '/x/../auth', '/auth/.', '/auth//']) {
    const arrival = await new BrowserAgent().run(new URL(`${stack.gatewayUrl}${path}?${query}`))
    noPlainCode(t, arrival, path)
  }
  const post = await new BrowserAgent().run(new URL(`${stack.gatewayUrl}/AUTH/`), { method: 'POST', body: query })
  noPlainCode(t, post, 'POST /AUTH/')
})

// ---------------------------------------------------------------------------------------------
// Request objects that should not verify.

t.test('client_id confusion: objects verified under one client never pass as another', async (t) => {
  const flowEs = await fapiParameters('fapi-es')
  const esObject = await sign(claimsOf('fapi-es', flowEs), ES_KEY.key.key, 'ES256', ES_KEY.kid)
  // fapi-es's good object, sent as fapi-open (ES256 too): fapi-open's keys must not verify it.
  await refused(t, FAPI_OPEN, await send('fapi-open', esObject))
  // fapi-open's own key, iss fapi-open, but client_id fapi-es inside.
  const openFlow = await fapiParameters('fapi-open')
  await refused(t, FAPI_OPEN, await send('fapi-open', await sign(claimsOf('fapi-open', openFlow, { client_id: 'fapi-es' }), OPEN_KEY.key.key, 'ES256', OPEN_KEY.kid)))
  // iss fapi-es, signed by fapi-open's key, sent as fapi-open.
  await refused(t, FAPI_OPEN, await send('fapi-open', await sign(claimsOf('fapi-es', openFlow), OPEN_KEY.key.key, 'ES256', OPEN_KEY.kid)))
  // fapi-open signs an object for fapi-es and puts fapi-es's kid on it.
  await refused(t, FAPI_ES, await send('fapi-es', await sign(claimsOf('fapi-es', flowEs), OPEN_KEY.key.key, 'ES256', ES_KEY.kid)), /invalid_request_object|signature/)
  // No outer client_id: the object's iss must not pick the client.
  const noOuter = authorizationUrl(as, { response_type: 'code', scope: 'openid', redirect_uri: FAPI_REDIRECT_URI, request: esObject })
  noPlainCode(t, await new BrowserAgent().run(noOuter), 'no outer client_id')
})


/** Each attempt, sent by value as `clientId`: refused, and never seen by the legacy server. */
function refusedUnseen (t: Test, client: oauth.Client, clientId: string, attempts: ReadonlyArray<readonly [string, string]>): void {
  for (const [name, request] of attempts) {
    t.test(name, async (t) => {
      const before = legacyA.auth.length
      await refused(t, client, await send(clientId, request))
      t.equal(legacyA.auth.length, before, 'the legacy server never saw it')
    })
  }
}

t.test('alg confusion: HS256 keyed with the public key, none in any case, kid injection, embedded jwk/jku', async (t) => {
  const flow = await fapiParameters('fapi-any')
  const claims = claimsOf('fapi-any', flow)
  const publicPem = await exportSPKI(await importJWK(ANY_KEY.publicJwk, 'PS256') as CryptoKey)
  const attempts: Array<[string, string]> = [
    ['HS256 keyed with the PEM public key', await sign(claims, new TextEncoder().encode(publicPem), 'HS256', ANY_KEY.kid)],
    ['HS256 keyed with the JWK public key', await sign(claims, new TextEncoder().encode(JSON.stringify(ANY_KEY.publicJwk)), 'HS256', ANY_KEY.kid)],
    ['HS256 keyed with n', await sign(claims, new TextEncoder().encode(String(ANY_KEY.publicJwk.n)), 'HS256')],
    ['alg None', `${part({ alg: 'None', typ: 'oauth-authz-req+jwt' })}.${part(claims)}.`],
    ['alg NONE with a signature', `${part({ alg: 'NONE' })}.${part(claims)}.c2ln`],
    ['alg none encoded with spaces', `${part('{"alg" : "none"}')}.${part(claims)}.`],
  ]
  const attacker = await ecKey('attacker')
  attempts.push(['attacker key embedded as jwk', await sign(claims, attacker.key.key, 'ES256', undefined, { jwk: attacker.publicJwk })])
  attempts.push(['attacker jku', await sign(claims, attacker.key.key, 'ES256', 'attacker', { jku: 'https://attacker.example.net/jwks' })])
  attempts.push(['kid path injection', await sign(claims, attacker.key.key, 'ES256', '../../../../dev/null')])
  attempts.push(['RS256 alg name on a PS256 signature', `${part({ alg: 'RS256', kid: ANY_KEY.kid })}.${(await sign(claims, ANY_KEY.key.key as CryptoKey, 'PS256', ANY_KEY.kid)).split('.').slice(1).join('.')}`])
  refusedUnseen(t, FAPI_ANY, 'fapi-any', attempts)
  t.test('Ed25519 object where ES256 is registered', async (t) => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const edKey = await importJWK(await exportJWK(privateKey), 'EdDSA') as CryptoKey
    const esFlow = await fapiParameters('fapi-es')
    for (const alg of ['EdDSA', 'Ed25519']) await refused(t, FAPI_ES, await send('fapi-es', await sign(claimsOf('fapi-es', esFlow), edKey, alg, ES_KEY.kid)))
  })
})

t.test('JWE tricks: only a JWE holding a JWS signed by the client is accepted', async (t) => {
  const encKey = await importJWK(gatewayEncPublic, 'RSA-OAEP-256')
  const encrypt = async (plaintext: string, header: Record<string, unknown> = {}): Promise<string> =>
    new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gateway-enc', cty: 'JWT', ...header } as never).encrypt(encKey)
  const flow = await fapiParameters('fapi-es')
  const claims = claimsOf('fapi-es', flow)
  const goodInner = await sign(claims, ES_KEY.key.key, 'ES256', ES_KEY.kid)
  const attempts: Array<[string, string]> = [
    ['unsigned claims inside a JWE', await encrypt(JSON.stringify(claims))],
    ['alg none JWS inside a JWE', await encrypt(`${part({ alg: 'none' })}.${part(claims)}.`)],
    ['a JWE inside a JWE', await encrypt(await encrypt(goodInner))],
    ['fapi-ps signed inside, sent as fapi-es', await encrypt(await sign(claimsOf('fapi-ps', flow), PS_KEY.key.key as CryptoKey, 'PS256', PS_KEY.kid))],
    ['a JWE to an unknown kid', await encrypt(goodInner, { kid: 'nope' })],
  ]
  refusedUnseen(t, FAPI_ES, 'fapi-es', attempts)
})

t.test('aud confusion: token endpoint, PAR endpoint in an array alone, trailing slash, empty', async (t) => {
  for (const aud of [as.token_endpoint!, [parEndpoint], `${as.issuer}/`, '', [as.token_endpoint!], as.authorization_endpoint!, { aud: as.issuer }]) {
    const flow = await fapiParameters('fapi-es')
    await refused(t, FAPI_ES, await send('fapi-es', await sign(claimsOf('fapi-es', flow, { aud }), ES_KEY.key.key, 'ES256', ES_KEY.kid)), /aud/)
  }
})

t.test('exp/nbf edges: strings, Infinity, negative, huge, equal, fractional over the bound', async (t) => {
  const flow = await fapiParameters('fapi-es')
  const at = now()
  const base = claimsOf('fapi-es', flow)
  const { exp: _e, nbf: _n, iat: _i, ...rest } = base
  const body = JSON.stringify(rest).slice(0, -1)
  const raw: Array<[string, string]> = [
    ['exp as a string', `${body},"nbf":${at},"exp":"${at + 300}"}`],
    ['nbf as a string', `${body},"nbf":"${at}","exp":${at + 300}}`],
    ['exp 1e400 (Infinity)', `${body},"nbf":${at},"exp":1e400}`],
    ['nbf -1e400 (-Infinity)', `${body},"nbf":-1e400,"exp":${at + 300}}`],
    ['nbf and exp both 1e400', `${body},"nbf":1e400,"exp":1e400}`],
    ['nbf negative', `${body},"nbf":-1,"exp":${at + 300}}`],
    ['exp huge', `${body},"nbf":${at},"exp":99999999999999999999}`],
    ['exp equal to nbf', `${body},"nbf":${at},"exp":${at}}`],
    ['exp 3600.5 s after nbf', `${body},"nbf":${at},"exp":${at + 3600.5}}`],
    ['iat as a string', `${body},"nbf":${at},"exp":${at + 300},"iat":"${at}"}`],
    ['iat far in the future', `${body},"nbf":${at},"exp":${at + 300},"iat":${at + 100000}}`],
    ['exp null', `${body},"nbf":${at},"exp":null}`],
    ['exp as an array', `${body},"nbf":${at},"exp":[${at + 300}]}`],
  ]
  for (const [name, payload] of raw) {
    t.test(name, async (t) => {
      const before = legacyA.auth.length
      await refused(t, FAPI_ES, await send('fapi-es', await signRaw(payload, ES_KEY.key.key, { alg: 'ES256', kid: ES_KEY.kid, typ: 'oauth-authz-req+jwt' })))
      t.equal(legacyA.auth.length, before)
    })
  }
})

// ---------------------------------------------------------------------------------------------
// Refusals and redirects.

t.test('open redirect: a refusal is never delivered to a redirect_uri the legacy server never checked', async (t) => {
  // fapi-open lists no redirect_uris on the gateway; its (verified) object names an attacker's URI.
  const flow = await fapiParameters('fapi-open', { redirect_uri: EVIL })
  const request = await sign(claimsOf('fapi-open', flow), OPEN_KEY.key.key, 'ES256', OPEN_KEY.kid)
  const arrival = await send('fapi-open', request, { redirect_uri: EVIL, response_type: 'code id_token' })
  t.comment(`arrival: ${arrival.kind} ${arrival.kind === 'redirect' ? arrival.url.href.slice(0, 120) : ''}`)
  t.not(arrival.kind === 'redirect' ? arrival.url.origin : arrival.kind === 'form' ? new URL(arrival.action).origin : 'page', 'https://attacker.example.net',
    'SECURITY §8: no gateway error redirects to a URI the legacy server has not vouched for (RFC 6749 §3.1.2.4)')
  const withTokens = await fapiParameters('fapi-open', { redirect_uri: EVIL, response_mode: 'query' })
  const second = await send('fapi-open', await sign(claimsOf('fapi-open', withTokens, { response_type: 'code' }), OPEN_KEY.key.key, 'ES256', OPEN_KEY.kid), { redirect_uri: EVIL, scope: 'openid email other' })
  t.not(second.kind === 'redirect' ? second.url.origin : 'no redirect', 'https://attacker.example.net', 'nor for a scope mismatch')
})

t.test('a failed object of a vouched client is not delivered to the redirect_uri inside it', async (t) => {
  const flow = await fapiParameters('fapi-es', { redirect_uri: EVIL })
  const forged = await sign(claimsOf('fapi-es', flow), (await ecKey('x')).key.key, 'ES256', ES_KEY.kid)
  const arrival = await send('fapi-es', forged, { redirect_uri: EVIL })
  t.equal(arrival.kind, 'page', 'an error page, not a redirect to the unvouched URI')
})

// ---------------------------------------------------------------------------------------------
// jti and one-time use.

t.test('jti: an object pushed to PAR cannot be used again by value (and the other way round)', async (t) => {
  const flow = await fapiParameters('fapi-es')
  const request = await sign(claimsOf('fapi-es', flow), ES_KEY.key.key, 'ES256', ES_KEY.kid)
  const first = await pushed(FAPI_ES, { request })
  t.equal(first.status, 201, 'pushed once')
  await refused(t, FAPI_ES, await send('fapi-es', request), /jti/)
  const flow2 = await fapiParameters('fapi-es')
  const request2 = await sign(claimsOf('fapi-es', flow2), ES_KEY.key.key, 'ES256', ES_KEY.kid)
  await judge(as, FAPI_ES, callbackParameters(await send('fapi-es', request2)), flow2.state)
  const again = await pushed(FAPI_ES, { request: request2 })
  t.equal(again.status, 400, 'the by-value object cannot be pushed afterwards')
})

t.test('jti: two concurrent uses of one object by value, exactly one flow', async (t) => {
  const flow = await fapiParameters('fapi-es')
  const request = await sign(claimsOf('fapi-es', flow), ES_KEY.key.key, 'ES256', ES_KEY.kid)
  const before = legacyA.auth.length
  await Promise.all([send('fapi-es', request), send('fapi-es', request), send('fapi-es', request)])
  t.equal(legacyA.auth.length - before, 1, 'the legacy server got it once')
})

t.test('replay: a request object WITHOUT jti is not accepted twice', async (t) => {
  const flow = await fapiParameters('fapi-es')
  const { jti: _jti, ...claims } = claimsOf('fapi-es', flow)
  const request = await sign(claims, ES_KEY.key.key, 'ES256', ES_KEY.kid)
  const before = legacyA.auth.length
  await send('fapi-es', request)
  await send('fapi-es', request)
  t.equal(legacyA.auth.length - before, 1, 'a signed object is one authorization request (RFC 9101 §10.8 / FAPI replay)')
})

t.test('request_uri: racing two browsers with one request_uri, exactly one flow', async (t) => {
  const flow = await fapiParameters('fapi-par')
  const uri = await pushedUri(FAPI_PAR, { request: await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key) })
  const before = legacyA.auth.length
  const arrivals = await Promise.all([0, 1, 2, 3].map(() => new BrowserAgent().run(authorizationUrl(as, { client_id: 'fapi-par', request_uri: uri }))))
  t.equal(arrivals.filter((arrival) => arrival.kind === 'redirect' && callbackParameters(arrival).has('response')).length, 1, 'one JARM response')
  t.equal(legacyA.auth.length - before, 1, 'the legacy server got it once')
})

t.test('request_uri: outer parameters beside it never reach the legacy server', async (t) => {
  const flow = await fapiParameters('fapi-par')
  const uri = await pushedUri(FAPI_PAR, { request: await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key) })
  const before = legacyA.auth.length
  const arrival = await new BrowserAgent().run(authorizationUrl(as, {
    client_id: 'fapi-par', request_uri: uri, state: 'evil-state', response_mode: 'query', redirect_uri: FAPI_REDIRECT_URI, nonce: 'evil', scope: 'openid evil', prompt: 'none', code_challenge: 'evil-evil-evil-evil-evil-evil-evil-evil-evil1',
  }))
  const forwarded = legacyA.auth[before]
  t.ok(forwarded)
  t.notOk(forwarded?.toString().includes('evil'), 'no smuggled value reached the legacy server')
  const parameters = callbackParameters(arrival)
  t.equal(decodeJwt(parameters.get('response')!)['state'], flow.state, 'the pushed state')
})

t.test('request_uri: tampered, truncated, another client\'s, a PAR handle spelled differently', async (t) => {
  const uri = await pushedUri(FAPI_SECRET_CLIENT, (await fapiParameters('fapi-secret')).parameters)
  for (const [name, clientId, value] of [
    ['another client', 'fapi-ps', uri], ['truncated', 'fapi-secret', uri.slice(0, -4)], ['extended', 'fapi-secret', `${uri}AA`],
    ['padded', 'fapi-secret', `${uri}=`], ['upper-case prefix', 'fapi-secret', uri.replace('urn:ietf:params:oauth:request_uri:', 'URN:IETF:PARAMS:OAUTH:REQUEST_URI:')],
    ['percent-encoded inside', 'fapi-secret', uri.replace('jgp1.', 'jgp1%2E')],
  ] as const) {
    const arrival = await new BrowserAgent().run(authorizationUrl(as, { client_id: clientId, request_uri: value }))
    noPlainCode(t, arrival, name)
    t.notOk(arrival.kind === 'redirect' && callbackParameters(arrival).has('response') && decodeJwt(callbackParameters(arrival).get('response')!)['code'] !== undefined, `${name}: no code at all`)
  }
  // The genuine one still works once for its own client.
  const ok = await new BrowserAgent().run(authorizationUrl(as, { client_id: 'fapi-secret', request_uri: uri }))
  t.ok(ok.kind === 'redirect' && callbackParameters(ok).has('response'))
})

// ---------------------------------------------------------------------------------------------
// The gateway's PAR endpoint: client authentication and policy.

t.test('PAR policy: require_signed_request_object holds for pushed requests', async (t) => {
  const flow = await fapiParameters('fapi-ps')
  const response = await pushed(FAPI_PS, flow.parameters)
  t.equal(response.status, 400)
  t.match(await response.json(), { error: 'invalid_request_object' })
})

t.test('PAR: smuggled parameters beside a pushed object are not sealed into the request_uri', async (t) => {
  const flow = await fapiParameters('fapi-par')
  const request = await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key)
  const uri = await pushedUri(FAPI_PAR, { request, state: 'evil-state', response_mode: 'query', redirect_uri: FAPI_REDIRECT_URI, nonce: 'evil', prompt: 'none', login_hint: 'evil' })
  const before = legacyA.auth.length
  const arrival = await new BrowserAgent().run(authorizationUrl(as, { client_id: 'fapi-par', request_uri: uri }))
  t.notOk(legacyA.auth[before]?.toString().includes('evil'))
  t.equal(decodeJwt(callbackParameters(arrival).get('response')!)['state'], flow.state)
})

t.test('PAR client assertions: replay, aud, typ, sub, alg', async (t) => {
  const flow = await fapiParameters('fapi-par')
  const body = async (clientAssertion: string): Promise<Record<string, string>> => ({
    client_id: 'fapi-par', client_assertion_type: JWT_BEARER, client_assertion: clientAssertion,
    request: await oauth.issueRequestObject(as, FAPI_PAR, (await fapiParameters('fapi-par')).parameters, PAR_KEY.key),
  })
  const good = await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid)
  t.equal((await postPar(await body(good))).status, 201, 'a good assertion')
  t.equal((await postPar(await body(good))).status, 401, 'replayed')
  for (const [name, made] of [
    ['aud the PAR endpoint', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { aud: parEndpoint })],
    ['aud the token endpoint', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { aud: as.token_endpoint })],
    ['aud an array holding the issuer', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { aud: [as.issuer] })],
    ['typ of a request object', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, {}, { typ: 'oauth-authz-req+jwt' })],
    ['no sub', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { sub: undefined })],
    ['sub another client', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { sub: 'fapi-es' })],
    ['no jti', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { jti: undefined })],
    ['exp a day ahead', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { exp: now() + 86400 })],
    ['exp as a string', await assertion('fapi-par', PAR_KEY.key.key, 'ES256', PAR_KEY.kid, { exp: String(now() + 60) })],
    ['another client\'s key and kid', await assertion('fapi-par', ES_KEY.key.key, 'ES256', ES_KEY.kid)],
    ['alg none', `${part({ alg: 'none' })}.${part({ iss: 'fapi-par', sub: 'fapi-par', aud: as.issuer, exp: now() + 60, jti: randomUUID() })}.`],
    ['HS256 keyed with the public JWK', await signRaw(JSON.stringify({ iss: 'fapi-par', sub: 'fapi-par', aud: as.issuer, exp: now() + 60, jti: randomUUID() }), new TextEncoder().encode(JSON.stringify(PAR_KEY.publicJwk)), { alg: 'HS256' })],
  ] as const) {
    const answer = await postPar(await body(made))
    t.equal(answer.status, 401, name)
    t.equal(answer.body['error'], 'invalid_client', name)
  }
  // A request object of the client (what a FAPI 1.0 browser URL exposes) used as its assertion.
  const object = await sign({ ...claimsOf('fapi-par', flow), sub: 'fapi-par' }, PAR_KEY.key.key, 'ES256', PAR_KEY.kid)
  t.equal((await postPar(await body(object))).status, 401, 'a request object is not a client assertion')
  const objectNoTyp = await signRaw(JSON.stringify({ ...claimsOf('fapi-par', flow), sub: 'fapi-par' }), PAR_KEY.key.key, { alg: 'ES256', kid: PAR_KEY.kid })
  const reuse = await postPar(await body(objectNoTyp))
  t.equal(reuse.status, 201, '(control: an untyped JWT with the assertion claims authenticates)')
  // and the jti it used up is the object's: it cannot now be used as a request object either way round
})

t.test('PAR Basic authentication tricks', async (t) => {
  const flow = await fapiParameters('fapi-secret')
  const parameters = flow.parameters
  const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['wrong secret', parameters, { authorization: basic('fapi-secret', `${FAPI_SECRET}x`) }],
    ['secret with a trailing space', parameters, { authorization: basic('fapi-secret', `${FAPI_SECRET} `) }],
    ['non-canonical base64 (trailing bits)', parameters, { authorization: `Basic ${Buffer.from(`fapi-secret:${FAPI_SECRET}`).toString('base64').replace(/=*$/, '').slice(0, -1)}${'B'}` }],
    ['base64 with junk', parameters, { authorization: `Basic ${Buffer.from(`fapi-secret:${FAPI_SECRET}`).toString('base64')}!!` }],
    ['no colon', parameters, { authorization: `Basic ${Buffer.from(`fapi-secret${FAPI_SECRET}`).toString('base64')}` }],
    ['client_id in the body is another client', { ...parameters, client_id: 'fapi-ps' }, { authorization: basic('fapi-secret', FAPI_SECRET) }],
    ['Basic and client_secret', { ...parameters, client_secret: FAPI_SECRET }, { authorization: basic('fapi-secret', FAPI_SECRET) }],
    ['client_secret_post for a client_secret_basic client', { ...parameters, client_secret: FAPI_SECRET }, {}],
    ['Basic for a private_key_jwt client', { ...(await fapiParameters('fapi-par')).parameters }, { authorization: basic('fapi-par', FAPI_SECRET) }],
    ['Basic for an unknown client', parameters, { authorization: basic('nobody', FAPI_SECRET) }],
    ['Basic with empty client_id', parameters, { authorization: basic('', FAPI_SECRET) }],
    ['Bearer scheme', parameters, { authorization: `Bearer ${FAPI_SECRET}` }],
    ['NUL in the id', parameters, { authorization: `Basic ${Buffer.from(`fapi-secret\u0000:${FAPI_SECRET}`).toString('base64')}` }],
  ]
  for (const [name, body, headers] of cases) {
    const answer = await postPar(body, headers)
    t.ok(answer.status === 401 || answer.status === 400, `${name}: refused (${answer.status})`)
    t.not(answer.status, 201, name)
  }
  const good = await postPar(parameters, { authorization: basic('fapi-secret', FAPI_SECRET) })
  t.equal(good.status, 201, 'control')
})

t.test('PAR: a request_uri cannot be pushed inside a pushed request, nor request twice', async (t) => {
  const flow = await fapiParameters('fapi-secret')
  const uri = await pushedUri(FAPI_SECRET_CLIENT, flow.parameters)
  t.equal((await postPar({ ...flow.parameters, request_uri: uri }, { authorization: basic('fapi-secret', FAPI_SECRET) })).status, 400)
  const twice = new URLSearchParams({ ...flow.parameters, request: 'a.b.c' })
  twice.append('request', 'd.e.f')
  const response = await fetch(parEndpoint, { method: 'POST', body: twice, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('fapi-secret', FAPI_SECRET) } })
  t.equal(response.status, 400)
})

// ---------------------------------------------------------------------------------------------
// A second stack: resigned forwarding, no clock tolerance, and a request_uri outliving its object.

t.test('resigned objects and request_uri lifetimes', async (t) => {
  const legacyB = recorder()
  const stackB = await startFapiStack({ config: { request_objects: { forward: 'resigned', clock_tolerance_seconds: 0 }, pushed_authorization_requests: { serve: 'gateway', ttl_seconds: 60 } }, onLegacyRequest: legacyB.hook })
  t.teardown(() => stackB.close())
  const asB = await discover(stackB.issuer)

  t.test('what a resigned object contains: only the verified parameters, the plain mode, the sealed state', async (t) => {
    const flow = await fapiParameters('fapi-es')
    const request = await oauth.issueRequestObject(asB, FAPI_ES, flow.parameters, ES_KEY.key)
    const url = authorizationUrl(asB, { ...byValue('fapi-es', request), state: 'evil-state', nonce: 'evil', client_assertion: 'smuggled.assertion.x', client_secret: 'smuggled', login_hint: 'evil' })
    const before = legacyB.auth.length
    await new BrowserAgent().run(url)
    const forwarded = legacyB.auth[before]
    t.ok(forwarded?.get('request'), 'a re-signed object reached the legacy server')
    t.same([...forwarded!.keys()].sort(), ['client_id', 'request', 'response_type', 'scope'], 'beside it only client_id, response_type, scope')
    const resigned = forwarded!.get('request')!
    const header = decodeProtectedHeader(resigned)
    const claims = decodeJwt(resigned)
    t.equal(header.typ, 'oauth-authz-req+jwt')
    t.ok(TEST_KEYS.keys.some((key) => key.kid === header.kid), 'a gateway key')
    t.equal(claims.iss, 'fapi-es')
    t.equal(claims.aud, asB.issuer)
    t.not(claims['response_mode'], 'jwt', 'a plain mode')
    t.not(claims['state'], flow.state, 'the sealed state, not the client\'s')
    t.notOk(JSON.stringify(claims).includes('evil') || JSON.stringify(claims).includes('smuggled'), 'no unsigned outer value signed by the gateway key')
    t.same(Object.keys(claims).filter((name) => !['iss', 'aud', 'iat', 'nbf', 'exp', 'jti', ...Object.keys(flow.parameters)].includes(name)), [], 'nothing the client did not sign')
  })

  t.test('a pushed request_uri does not outlive the request object it was made from', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const at = now()
    const request = await sign({ iss: 'fapi-par', aud: asB.issuer, ...flow.parameters, iat: at, nbf: at, exp: at + 2, jti: randomUUID() }, PAR_KEY.key.key, 'ES256', PAR_KEY.kid)
    const response = await oauth.pushedAuthorizationRequest(asB, FAPI_PAR, AUTH['fapi-par']!(), { request }, insecure)
    t.equal(response.status, 201)
    const body = await response.json() as { request_uri: string, expires_in: number }
    t.ok(body.expires_in <= 2, `expires_in ${body.expires_in} no later than the object's exp (2 s)`)
    await new Promise((resolve) => setTimeout(resolve, 3_500))
    const before = legacyB.auth.length
    await new BrowserAgent().run(authorizationUrl(asB, { client_id: 'fapi-par', request_uri: body.request_uri }))
    t.equal(legacyB.auth.length, before, 'an expired object\'s request is not forwarded')
  })
})

// ---------------------------------------------------------------------------------------------
// The legacy server's own PAR (serve upstream): pushed bodies rewritten, and its request_uris.

t.test('PAR upstream', async (t) => {
  const legacyC = recorder()
  const stackC = await startFapiStack({ legacyPar: true, config: { pushed_authorization_requests: { serve: 'upstream' } }, onLegacyRequest: legacyC.hook })
  t.teardown(() => stackC.close())
  const asC = await discover(stackC.issuer)
  t.equal(asC.pushed_authorization_request_endpoint, `${stackC.issuer}/request`)

  t.test('a plain push of a require_signed client is refused under every spelling of the legacy PAR path', async (t) => {
    for (const path of ['/request', '/request/', '/REQUEST', '/Request/', '/request;x=1', '/request.json', '/%72equest', '/./request']) {
      const flow = await fapiParameters('fapi-par', { response_mode: 'query' })
      const before = legacyC.posts.filter((post) => post.path.toLowerCase().includes('request')).length
      const response = await oauth.pushedAuthorizationRequest({ ...asC, pushed_authorization_request_endpoint: `${stackC.gatewayUrl}${path}` }, FAPI_PAR, AUTH['fapi-par']!(), flow.parameters, insecure)
      t.not(response.status, 201, `${path}: no request_uri for an unsigned push (${response.status})`)
      await response.arrayBuffer()
      const after = legacyC.posts.filter((post) => post.path.toLowerCase().includes('request')).length
      if (after > before) t.notOk(legacyC.posts.at(-1)!.body.get('response_mode') === 'query' && !legacyC.posts.at(-1)!.body.has('request'), `${path}: the legacy server did not get the unsigned push as it was`)
    }
  })

  t.test('a legacy request_uri: another client, outer parameters beside it', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const response = await oauth.pushedAuthorizationRequest(asC, FAPI_PAR, AUTH['fapi-par']!(), { request: await oauth.issueRequestObject(asC, FAPI_PAR, flow.parameters, PAR_KEY.key) }, insecure)
    const { request_uri: uri } = await oauth.processPushedAuthorizationResponse(asC, FAPI_PAR, response)
    secrets.push(uri)
    noPlainCode(t, await new BrowserAgent().run(authorizationUrl(asC, { client_id: 'fapi-es', request_uri: uri })), 'another client')
    const arrival = await new BrowserAgent().run(authorizationUrl(asC, { client_id: 'fapi-par', request_uri: uri, response_mode: 'query', state: 'evil', redirect_uri: FAPI_REDIRECT_URI }))
    noPlainCode(t, arrival, 'outer plain response_mode and state beside a legacy request_uri')
  })

  t.test('a gateway-style sealed request_uri is not accepted when PAR is the legacy server\'s', async (t) => {
    const flow = await fapiParameters('fapi-ps', { response_mode: 'query' })
    const arrival = await new BrowserAgent().run(authorizationUrl(asC, { ...flow.parameters, request_uri: 'urn:ietf:params:oauth:request_uri:made-up' }))
    noPlainCode(t, arrival, 'made-up URN with plain parameters for a require_signed client')
  })
})

t.test('replay store: one request_uri raced across two replicas sharing Redis, exactly one flow', async (t) => {
  const { startRedisServer } = await import('../helpers/redis-server.js')
  const redis = await startRedisServer()
  const legacyD = recorder()
  const stackD = await startFapiStack({ gateways: 2, config: { replay_store: { url: redis.url } }, onLegacyRequest: legacyD.hook })
  t.teardown(async () => { await stackD.close(); await redis.remove() })
  const asD = await discover(stackD.issuer)
  const flow = await fapiParameters('fapi-par')
  const response = await oauth.pushedAuthorizationRequest(asD, FAPI_PAR, AUTH['fapi-par']!(), { request: await oauth.issueRequestObject(asD, FAPI_PAR, flow.parameters, PAR_KEY.key) }, insecure)
  const { request_uri: uri } = await oauth.processPushedAuthorizationResponse(asD, FAPI_PAR, response)
  const ports = stackD.gateways.map((gateway) => (gateway.server.address() as { port: number }).port)
  const urls = [0, 1, 0, 1].map((index) => {
    const url = authorizationUrl(asD, { client_id: 'fapi-par', request_uri: uri })
    url.port = String(ports[index])
    return url
  })
  const before = legacyD.auth.length
  await Promise.all(urls.map((url) => new BrowserAgent().request(url).then((r) => r.arrayBuffer())))
  t.equal(legacyD.auth.length - before, 1, 'the legacy server got it once across both replicas')
  // The same object's jti across replicas too.
  const flow2 = await fapiParameters('fapi-es')
  const object = await sign({ ...claimsOf('fapi-es', flow2), aud: asD.issuer }, ES_KEY.key.key, 'ES256', ES_KEY.kid)
  const byValueUrls = [0, 1].map((index) => {
    const url = authorizationUrl(asD, byValue('fapi-es', object))
    url.port = String(ports[index])
    return url
  })
  const before2 = legacyD.auth.length
  await Promise.all(byValueUrls.map((url) => new BrowserAgent().request(url).then((r) => r.arrayBuffer())))
  t.equal(legacyD.auth.length - before2, 1, 'one object by value, once across both replicas')
})

// ---------------------------------------------------------------------------------------------
// Logs.

t.test('logs: no request object, assertion, request_uri or secret in any log line', async (t) => {
  const all = stack.rawLogs.join('\n')
  const leaked = secrets.filter((value) => value.length > 20 && all.includes(value))
  t.same(leaked.map((value) => value.slice(0, 40)), [], 'none of the values sent appears in the log')
  t.notOk(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/.test(all), 'no JWT-looking string')
  t.notOk(all.includes('jgp1.'), 'no sealed request_uri')
})
