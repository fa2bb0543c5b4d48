// Request objects (RFC 9101) at the authorization endpoint of a real oidc-provider (JARM off,
// request objects on), for clients the gateway has no keys for (the FAPI suites,
// test/e2e/fapi-*.test.ts, cover the ones it verifies). A JWT mode inside such an object cannot be
// verified, so it is refused as invalid_request_object: as a JARM error where the gateway config
// vouches for the redirect_uri (app4), as a page otherwise. Plain request objects, references and
// encrypted objects of such clients pass through to the legacy server.
import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt } from 'jose'
import { BrowserAgent, readForm } from '../helpers/browser-agent.js'
import { discover, judge, oauth } from '../helpers/judge.js'
import { APP4, APP4_KEY, codeFlowParameters, redeemWith, REDIRECT_URI, startRequestStack, unsignedJwt } from '../helpers/request-clients.js'

const stack = await startRequestStack()
t.teardown(() => stack.close())
const as = await discover(stack.issuer)

function authorization (parameters: Record<string, string>): URL {
  const url = new URL(as.authorization_endpoint!)
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value)
  return url
}

async function signedRequest (mode: string | undefined, extra: Record<string, string> = {}): Promise<{ request: string, state: string, verifier: string, nonce: string }> {
  const flow = await codeFlowParameters('app4', { ...(mode === undefined ? {} : { response_mode: mode }), ...extra })
  return { request: await oauth.issueRequestObject(as, APP4, flow.parameters, APP4_KEY), state: flow.state, verifier: flow.verifier, nonce: flow.nonce }
}

async function expectJarmRefusal (t: Test, parameters: URLSearchParams, state: string): Promise<void> {
  const error = await t.rejects(judge(as, APP4, parameters, state)) as unknown
  t.ok(error instanceof oauth.AuthorizationResponseError, 'a verified JARM error response')
  t.equal((error as oauth.AuthorizationResponseError).error, 'invalid_request_object')
  t.match((error as oauth.AuthorizationResponseError).error_description, /its request objects cannot be verified/)
}

for (const [mode, where] of [['query.jwt', 'query'], ['jwt', 'query'], ['fragment.jwt', 'fragment']] as const) {
  t.test(`${mode} inside a signed request object, redirect_uri vouched for: a JARM error in ${where}`, async (t) => {
    const { request, state } = await signedRequest(mode)
    const response = await fetch(authorization({ client_id: 'app4', request }), { redirect: 'manual' })
    t.equal(response.status, 303)
    const location = new URL(response.headers.get('location')!)
    t.equal(`${location.origin}${location.pathname}`, REDIRECT_URI)
    const carried = where === 'query' ? location.searchParams : new URLSearchParams(location.hash.slice(1))
    t.same([...carried.keys()], ['response'])
    await expectJarmRefusal(t, carried, state)
    t.ok(stack.logs.some((line) => line['event'] === 'jarm.refused' && line['code'] === 'invalid_request_object'))
  })
}

t.test('form_post.jwt inside a request object: a JARM error page posting to the redirect_uri', async (t) => {
  const { request, state } = await signedRequest('form_post.jwt')
  const response = await fetch(authorization({ client_id: 'app4', request }), { redirect: 'manual' })
  t.equal(response.status, 200)
  const form = readForm(await response.text())!
  t.equal(form.action, REDIRECT_URI)
  await expectJarmRefusal(t, new URLSearchParams(form.fields), state)
})

t.test('a JWT mode inside a request object of a client whose redirect_uri the gateway does not vouch for: a page', async (t) => {
  const request = unsignedJwt({ client_id: 'app1', response_mode: 'query.jwt', redirect_uri: REDIRECT_URI, state: 'never-redirected' })
  const response = await fetch(authorization({ client_id: 'app1', request }), { redirect: 'manual' })
  t.equal(response.status, 400)
  t.equal(response.headers.get('location'), null)
  const page = await response.text()
  t.match(page, /invalid_request_object/)
  t.notMatch(page, /never-redirected/)
})

t.test('a request object naming another client than the request: refused for the request\'s client, to its configured redirect_uri only', async (t) => {
  const request = unsignedJwt({ client_id: 'app1', response_mode: 'query.jwt', redirect_uri: REDIRECT_URI })
  const response = await fetch(authorization({ client_id: 'app4', request }), { redirect: 'manual' })
  t.equal(response.status, 303, 'app4\'s configured redirect_uris vouch for it')
  const location = new URL(response.headers.get('location')!)
  t.equal(`${location.origin}${location.pathname}`, REDIRECT_URI)
  t.equal(decodeJwt(location.searchParams.get('response')!)['aud'], 'app4', 'the error is addressed to the client that sent the request')
  const elsewhere = await fetch(authorization({ client_id: 'app4', request: unsignedJwt({ client_id: 'app1', response_mode: 'query.jwt', redirect_uri: 'https://elsewhere.example/cb' }) }), { redirect: 'manual' })
  t.equal(elsewhere.status, 400, 'a redirect_uri nobody vouches for: a page')
  t.match(await elsewhere.text(), /invalid_request_object/)
})

t.test('a request object whose redirect_uri is not a URL, or is missing: a page', async (t) => {
  for (const claims of [{ response_mode: 'query.jwt', redirect_uri: 'not a url' }, { response_mode: 'query.jwt' }]) {
    const response = await fetch(authorization({ client_id: 'app4', request: unsignedJwt(claims) }), { redirect: 'manual' })
    t.equal(response.status, 400)
    t.match(await response.text(), /invalid_request_object/)
  }
})

t.test('the client_id must be sent beside a request object (RFC 9101 §5): a page', async (t) => {
  const response = await fetch(authorization({ request: unsignedJwt({ client_id: 'app4', response_mode: 'query.jwt', redirect_uri: REDIRECT_URI, state: 's1' }) }), { redirect: 'manual' })
  t.equal(response.status, 400)
  t.equal(response.headers.get('location'), null)
  t.match(await response.text(), /client_id is required beside a request object/)
})

t.test('a plain signed request object passes through; the legacy server verifies it and answers in plain', async (t) => {
  const { request, state, verifier, nonce } = await signedRequest(undefined)
  const arrival = await new BrowserAgent().run(authorization({ client_id: 'app4', request }))
  t.equal(arrival.kind, 'redirect')
  if (arrival.kind !== 'redirect') return
  const params = oauth.validateAuthResponse(as, APP4, arrival.url.searchParams, state)
  t.ok((await redeemWith(as, APP4, oauth.PrivateKeyJwt(APP4_KEY), params, verifier, nonce)).access_token)
})

t.test('a request object with a plain mode passes through', async (t) => {
  const { request } = await signedRequest('query')
  const response = await fetch(authorization({ client_id: 'app4', request }), { redirect: 'manual' })
  t.not(response.status, 400, 'not refused by the gateway')
  t.equal(decodeJwt(request)['response_mode'], 'query')
})

t.test('a JWT mode beside a request object (outside it) is refused as before', async (t) => {
  const { request } = await signedRequest(undefined)
  const response = await fetch(authorization({ client_id: 'app4', request, response_mode: 'query.jwt' }), { redirect: 'manual' })
  t.equal(response.status, 400)
  t.match(await response.text(), /invalid_parameter/)
})

t.test('two request parameters are refused', async (t) => {
  const { request } = await signedRequest(undefined)
  const url = authorization({ client_id: 'app4', request })
  url.searchParams.append('request', request)
  const response = await fetch(url, { redirect: 'manual' })
  t.equal(response.status, 400)
  t.match(await response.text(), /duplicate_parameter/)
})

t.test('request_uri by reference is not fetched by the gateway: the legacy server gets it as sent', async (t) => {
  let fetched = 0
  const host = createServer((_req, res) => { fetched++; res.end(unsignedJwt({ response_mode: 'query.jwt' })) })
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => host.close(() => resolve())))
  const requestUri = `http://127.0.0.1:${(host.address() as AddressInfo).port}/ro.jwt`
  const before = stack.logs.length
  const response = await fetch(authorization({ client_id: 'app4', request_uri: requestUri, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid' }), { redirect: 'manual' })
  await response.arrayBuffer()
  t.equal(fetched, 0, 'the gateway did not fetch it (and this legacy server, oidc-provider 9, does not support it)')
  t.notOk(stack.logs.slice(before).some((line) => line['event'] === 'request.failed'), 'no gateway error: the answer is the legacy server\'s')
})

t.test('an encrypted (five-part) or malformed request object passes through to the legacy server', async (t) => {
  for (const request of ['eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d', 'not-a-jwt', 'x.bm90IGpzb24.y', `x.${Buffer.from('[1]').toString('base64url')}.y`]) {
    const before = stack.logs.length
    const response = await fetch(authorization({ client_id: 'app4', request, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid' }), { redirect: 'manual' })
    await response.arrayBuffer()
    t.notOk(stack.logs.slice(before).some((line) => line['event'] === 'request.failed'), `${request.slice(0, 12)}: not refused by the gateway`)
  }
})
