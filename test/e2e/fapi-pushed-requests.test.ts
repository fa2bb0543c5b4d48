// Pushed authorization requests (RFC 9126) for FAPI 2.0 clients, end to end with real parts:
// - the README walk-through ("FAPI 2.0 in front of a server without it"): its JSON config loaded as written (only the
//   addresses swapped for this test's), in front of an oidc-provider with JAR, PAR and JARM off, and
//   its client steps run with openid-client (JAR + PAR + JARM, private_key_jwt);
// - the gateway serving PAR itself: a signed object pushed with private_key_jwt, a plain push with
//   client_secret_basic, then the conformance suite's refusals (JSON at the PAR endpoint, an
//   `invalid_request_uri` page at the authorization endpoint: reused, another client's, expired);
// - the legacy server's own PAR (serve "upstream"): the pushed object verified by the gateway and
//   sent on as plain parameters.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { decodeJwt } from 'jose'
import * as client from 'openid-client'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import {
  AUTH, authorizationUrl, ES_KEY, errorPageOf, FAPI_PAR, FAPI_REDIRECT_URI, FAPI_SECRET, FAPI_SECRET_CLIENT, fapiParameters, insecure, jarmError,
  PAR_KEY, PAR_PATH, redeemAt, REQUEST_URI_PREFIX, rsaKey, startFapiStack, type CodeFlow,
} from '../helpers/fapi-stack.js'
import { discover, judge, oauth } from '../helpers/judge.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { TEST_KEYS, type Stack } from '../helpers/stack.js'

/** The request_uri of a 201 from a PAR endpoint, as oauth4webapi reads it. */
async function pushedUri (as: oauth.AuthorizationServer, who: oauth.Client, parameters: Record<string, string>): Promise<oauth.PushedAuthorizationResponse> {
  const response = await oauth.pushedAuthorizationRequest(as, who, AUTH[who.client_id]!(), parameters, insecure)
  return oauth.processPushedAuthorizationResponse(as, who, response)
}

/** The browser's whole request: client_id and request_uri, nothing else (RFC 9126 §4). */
function frontChannel (as: oauth.AuthorizationServer, clientId: string, requestUri: string): URL {
  return authorizationUrl(as, { client_id: clientId, request_uri: requestUri })
}

/** A raw POST to a PAR endpoint, for what oauth4webapi will not send; the status and JSON body. */
async function postPar (endpoint: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown>, contentType: string | null }> {
  const response = await fetch(endpoint, { method: 'POST', body: new URLSearchParams(body), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } })
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.json() as Record<string, unknown> }
}

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

t.test('the README walk-through: its config, its client steps with openid-client', async (t) => {
  const markdown = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  t.match(markdown, /^## FAPI 2\.0 in front of a server without it$/m)
  const block = /<!-- fapi-walkthrough-config -->\s*```json\n([\s\S]*?)```/.exec(markdown)?.[1]
  if (block === undefined) throw new Error('the README has no fapi-walkthrough-config block')

  // The client's JWKS, served where the config's jwks_uri will point.
  const bankKey = await rsaKey('bank-app-2025')
  const jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [bankKey.publicJwk] })))
  jwksServer.listen(0, '127.0.0.1')
  await once(jwksServer, 'listening')
  const redis = await startRedisServer()
  t.teardown(async () => { jwksServer.close(); await redis.remove() })

  const swapped = block
    .replace('https://bank-app.example.com/jwks.json', `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`)
    .replace('redis://redis.internal:6379', redis.url)
  const { upstream: { url: _documentedUpstream, ...upstream }, keys: _documentedKeys, ...config } = JSON.parse(swapped) as { upstream: { url: string }, keys: string, clients: Record<string, { redirect_uris: string[] }> }
  const redirectUri = config.clients['bank-app']!.redirect_uris[0]!
  const stack = await startFapiStack({
    config: { ...config, upstream, keys: TEST_KEYS },
    legacyClients: [{
      client_id: 'bank-app',
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [bankKey.publicJwk as never] },
    }],
  })
  t.teardown(() => stack.close())

  const signingKey = bankKey.key
  const rp = await client.discovery(new URL(stack.issuer), 'bank-app', { authorization_signed_response_alg: 'ES256' }, client.PrivateKeyJwt(signingKey), { execute: [client.allowInsecureRequests] })
  client.useJwtResponseMode(rp)
  const metadata = rp.serverMetadata()
  t.equal(metadata.pushed_authorization_request_endpoint, `${stack.issuer}${PAR_PATH}`, 'the gateway serves PAR')
  t.equal(metadata.require_pushed_authorization_requests, true, 'every client must push, unlisted ones are refused')
  t.equal(metadata.request_parameter_supported, true)

  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const { searchParams } = await client.buildAuthorizationUrlWithJAR(rp, {
    redirect_uri: redirectUri,
    scope: 'openid',
    response_type: 'code',
    response_mode: 'jwt',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }, signingKey)
  const redirectTo = await client.buildAuthorizationUrlWithPAR(rp, searchParams)
  t.same([...redirectTo.searchParams.keys()].sort(), ['client_id', 'request_uri'], 'the browser carries only client_id and request_uri')
  t.match(redirectTo.searchParams.get('request_uri'), new RegExp(`^${REQUEST_URI_PREFIX}`))

  const arrival = await new BrowserAgent().run(redirectTo)
  if (arrival.kind !== 'redirect') throw new Error(`the flow ended on a ${arrival.status} ${arrival.kind}`)
  t.equal(`${arrival.url.origin}${arrival.url.pathname}`, redirectUri)
  t.same([...arrival.url.searchParams.keys()], ['response'], 'a JARM response')
  const tokens = await client.authorizationCodeGrant(rp, arrival.url, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce })
  t.ok(tokens.access_token, 'openid-client verified the JARM response and redeemed the code at the legacy server')
  t.equal(tokens.claims()?.['nonce'], nonce)

  // Without PAR, the same client is refused: a JARM error to its vouched redirect_uri.
  const as = await discover(stack.issuer)
  const plain = authorizationUrl(as, { client_id: 'bank-app', response_type: 'code', response_mode: 'jwt', scope: 'openid', redirect_uri: redirectUri, state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })
  const refusal = await jarmError(as, { client_id: 'bank-app', authorization_signed_response_alg: 'ES256' }, await new BrowserAgent().run(plain))
  t.equal(refusal.redirectedTo, redirectUri)
  t.match(refusal.error, /^invalid_request(_object)?$/, 'refused by require_pushed_authorization_requests / require_signed_request_object')
})

t.test('the gateway serving PAR itself (the legacy server has none)', async (t) => {
  const stack: Stack = await startFapiStack({ config: { pushed_authorization_requests: { serve: 'gateway', ttl_seconds: 5 } } })
  t.teardown(() => stack.close())
  const as = await discover(stack.issuer)
  const parEndpoint = `${stack.issuer}${PAR_PATH}`
  t.equal(as.pushed_authorization_request_endpoint, parEndpoint)

  /** A FAPI 2.0 Message Signing push: the signed object only, fapi-par authenticating with private_key_jwt. */
  async function pushSigned (flow: CodeFlow): Promise<oauth.PushedAuthorizationResponse> {
    return pushedUri(as, FAPI_PAR, { request: await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key) })
  }

  t.test('FAPI 2.0 Message Signing: signed object pushed with private_key_jwt, browser with client_id + request_uri, JARM', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const pushed = await pushSigned(flow)
    t.match(pushed.request_uri, new RegExp(`^${REQUEST_URI_PREFIX}`))
    t.equal(pushed.expires_in, 5, 'ttl_seconds')
    const arrival = await new BrowserAgent().run(frontChannel(as, 'fapi-par', pushed.request_uri))
    const parameters = callbackParameters(arrival)
    t.same([...parameters.keys()], ['response'])
    const callback = await judge(as, FAPI_PAR, parameters, flow.state)
    t.equal(decodeJwt(parameters.get('response')!)['state'], flow.state, 'the state pushed inside the object')
    t.ok((await redeemAt(as, FAPI_PAR, callback, flow)).access_token)
  })

  t.test('PAR without an object, client_secret_basic, response_mode=jwt', async (t) => {
    const flow = await fapiParameters('fapi-secret')
    const pushed = await pushedUri(as, FAPI_SECRET_CLIENT, flow.parameters)
    const arrival = await new BrowserAgent().run(frontChannel(as, 'fapi-secret', pushed.request_uri))
    const callback = await judge(as, FAPI_SECRET_CLIENT, callbackParameters(arrival), flow.state)
    t.ok((await redeemAt(as, FAPI_SECRET_CLIENT, callback, flow)).access_token)
  })

  t.test('the PAR endpoint answers errors as JSON', async (t) => {
    const flow = await fapiParameters('fapi-secret')
    const wrongSecret = await postPar(parEndpoint, flow.parameters, { authorization: basic('fapi-secret', `${FAPI_SECRET}-not`) })
    t.equal(wrongSecret.status, 401)
    t.match(wrongSecret.contentType, /^application\/json/)
    t.equal(wrongSecret.body['error'], 'invalid_client')
    const noAuthentication = await postPar(parEndpoint, flow.parameters)
    t.equal(noAuthentication.status, 401)
    t.equal(noAuthentication.body['error'], 'invalid_client')
    const withRequestUri = await postPar(parEndpoint, { ...flow.parameters, request_uri: `${REQUEST_URI_PREFIX}x` }, { authorization: basic('fapi-secret', FAPI_SECRET) })
    t.equal(withRequestUri.status, 400)
    t.equal(withRequestUri.body['error'], 'invalid_request', 'no request_uri inside a pushed request (RFC 9126 §2.1)')
    const get = await fetch(parEndpoint)
    t.equal(get.status, 405)
    t.equal(get.headers.get('allow'), 'POST')
  })

  const badPushes: Array<{ name: string, because: RegExp, make: (flow: CodeFlow) => Promise<string> }> = [
    { name: 'aud = the PAR endpoint URL', because: /aud/, make: async (flow) => oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key, { [oauth.modifyAssertion]: (_h, payload) => { payload.aud = parEndpoint } }) },
    { name: 'missing exp', because: /exp is required/, make: async (flow) => oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key, { [oauth.modifyAssertion]: (_h, payload) => { delete payload.exp } }) },
    { name: 'missing nbf', because: /nbf is required/, make: async (flow) => oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key, { [oauth.modifyAssertion]: (_h, payload) => { delete payload.nbf } }) },
    { name: "another client's key", because: /signature|key/, make: async (flow) => oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, ES_KEY.key) },
  ]
  for (const { name, because, make } of badPushes) {
    t.test(`a pushed object refused as JSON invalid_request_object: ${name}`, async (t) => {
      const flow = await fapiParameters('fapi-par')
      const response = await oauth.pushedAuthorizationRequest(as, FAPI_PAR, AUTH['fapi-par']!(), { request: await make(flow) }, insecure)
      t.equal(response.status, 400)
      const body = await response.json() as Record<string, string>
      t.equal(body['error'], 'invalid_request_object')
      t.match(body['error_description'], because)
    })
  }

  t.test('a request_uri is used once: the second arrival gets an invalid_request_uri page', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const pushed = await pushSigned(flow)
    const first = await new BrowserAgent().run(frontChannel(as, 'fapi-par', pushed.request_uri))
    t.ok(await judge(as, FAPI_PAR, callbackParameters(first), flow.state))
    const again = errorPageOf(await new BrowserAgent().run(frontChannel(as, 'fapi-par', pushed.request_uri)))
    t.equal(again.status, 400)
    t.match(again.text, /invalid_request_uri/)
  })

  t.test("another client's request_uri is refused", async (t) => {
    const pushed = await pushedUri(as, FAPI_SECRET_CLIENT, (await fapiParameters('fapi-secret')).parameters)
    const page = errorPageOf(await new BrowserAgent().run(frontChannel(as, 'fapi-par', pushed.request_uri)))
    t.equal(page.status, 400)
    t.match(page.text, /invalid_request_uri/)
    // Not used up by the refusal: its own client still gets through.
    const arrival = await new BrowserAgent().run(frontChannel(as, 'fapi-secret', pushed.request_uri))
    t.equal(arrival.kind, 'redirect')
  })

  t.test('a tampered request_uri is refused', async (t) => {
    const pushed = await pushSigned(await fapiParameters('fapi-par'))
    const last = pushed.request_uri.at(-2) === 'A' ? 'B' : 'A'
    const tampered = `${pushed.request_uri.slice(0, -2)}${last}${pushed.request_uri.at(-1)!}`
    const page = errorPageOf(await new BrowserAgent().run(frontChannel(as, 'fapi-par', tampered)))
    t.equal(page.status, 400)
    t.match(page.text, /invalid_request_uri/)
  })

  t.test('an expired request_uri (ttl_seconds 5) is refused', async (t) => {
    const pushed = await pushSigned(await fapiParameters('fapi-par'))
    await new Promise((resolve) => setTimeout(resolve, 6_500))
    const page = errorPageOf(await new BrowserAgent().run(frontChannel(as, 'fapi-par', pushed.request_uri)))
    t.equal(page.status, 400)
    t.match(page.text, /invalid_request_uri/)
  })
})

t.test('the legacy server has PAR (and nothing else): serve "upstream"', async (t) => {
  const pushedBodies: string[] = []
  const stack = await startFapiStack({
    legacyPar: true,
    config: { pushed_authorization_requests: { serve: 'upstream' } },
    onLegacyRequest: (req) => {
      if (req.url !== '/request') return
      // Read along without a listener of our own, which would start the stream before oidc-provider reads it.
      let body = ''
      const emit = req.emit.bind(req) as (event: string, ...args: unknown[]) => boolean
      req.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'data') body += String(args[0])
        if (event === 'end') pushedBodies.push(body)
        return emit(event, ...args)
      }) as typeof req.emit
    },
  })
  t.teardown(() => stack.close())
  const as = await discover(stack.issuer)
  t.equal(as.pushed_authorization_request_endpoint, `${stack.issuer}/request`, "the legacy server's PAR endpoint, through the gateway")

  t.test('a signed object pushed with private_key_jwt: verified by the gateway, sent on as plain parameters', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const pushed = await pushedUri(as, FAPI_PAR, { request: await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key) })
    const sent = new URLSearchParams(pushedBodies.at(-1))
    t.notOk(sent.has('request'), 'the legacy server has no JAR: it gets the parameters')
    t.equal(sent.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', "the client's authentication is left for it")
    t.not(sent.get('response_mode'), 'jwt')
    const arrival = await new BrowserAgent().run(frontChannel(as, 'fapi-par', pushed.request_uri))
    const callback = await judge(as, FAPI_PAR, callbackParameters(arrival), flow.state)
    t.ok((await redeemAt(as, FAPI_PAR, callback, flow)).access_token)
  })

  t.test('a bad pushed object is refused by the gateway before the legacy server sees it', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const before = pushedBodies.length
    const request = await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key, { [oauth.modifyAssertion]: (_h, payload) => { payload.aud = as.pushed_authorization_request_endpoint! } })
    const response = await oauth.pushedAuthorizationRequest(as, FAPI_PAR, AUTH['fapi-par']!(), { request }, insecure)
    t.equal(response.status, 400)
    const body = await response.json() as Record<string, string>
    t.equal(body['error'], 'invalid_request_object')
    t.match(body['error_description'], /aud/, 'for its aud')
    t.equal(pushedBodies.length, before)
  })

  t.test('a client that must push is refused at the authorization endpoint without PAR', async (t) => {
    const flow = await fapiParameters('fapi-par')
    const refusal = await jarmError(as, FAPI_PAR, await new BrowserAgent().run(authorizationUrl(as, { client_id: 'fapi-par', request: await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key) })))
    t.equal(refusal.error, 'invalid_request')
    t.equal(refusal.redirectedTo, FAPI_REDIRECT_URI)
  })
})
