// Redirect answers of a legacy server, as many shapes as servers write them: every 3xx status,
// absolute and relative Location, query and fragment, the redirect_uri's own query kept apart,
// awkward values, raw UTF-8 in the header. Each captured response is judged by oauth4webapi.
import t, { type Test } from 'tap'
import type { ServerResponse } from 'node:http'
import { decodeJwt } from 'jose'
import { APP1, discover, judge, oauth } from '../helpers/judge.js'
import { authorizationUrl, CLIENT_STATE, REDIRECT_URI, startFakeStack, type UpstreamRequest } from '../helpers/fake-legacy-server.js'

/** How the fake legacy server answers the authorization request; set by each test. */
let answer: (request: UpstreamRequest, res: ServerResponse) => void = () => { throw new Error('no answer set') }
// Parameters beyond the standard ones are carried only when the operator lists them (extra_response_parameters).
const stack = await startFakeStack({ handler: (request, res) => answer(request, res), config: { extra_response_parameters: ['note', 'empty', 'plus', 'bare', 'name'] } })
t.teardown(() => stack.close())
const as = await discover(stack.gatewayUrl)

/** A redirect whose Location is built from the sealed request the legacy server received. */
function redirectWith (status: number, location: (request: UpstreamRequest) => string): void {
  answer = (request, res) => {
    const raw = location(request)
    // writeHead takes latin1 strings; a raw UTF-8 Location is written byte for byte that way.
    res.writeHead(status, { location: Buffer.from(raw, 'utf8').toString('latin1') }).end()
  }
}

async function run (parameters: Record<string, string> = {}): Promise<Response> {
  return fetch(authorizationUrl(stack, parameters), { redirect: 'manual' })
}

/** The JARM response of a query.jwt or fragment.jwt redirect, verified; returns the claims too. */
async function captured (t: Test, response: Response, where: 'query' | 'fragment' = 'query', redirectUri = REDIRECT_URI): Promise<{ params: URLSearchParams, claims: Record<string, unknown> }> {
  t.equal(response.status, 303, 'a JARM redirect')
  const location = new URL(response.headers.get('location')!)
  t.equal(`${location.origin}${location.pathname}`, new URL(redirectUri).origin + new URL(redirectUri).pathname)
  const carried = where === 'query' ? location.searchParams : new URLSearchParams(location.hash.slice(1))
  const jwt = carried.get('response')!
  const params = await judge(as, APP1, new URLSearchParams({ response: jwt }), CLIENT_STATE)
  return { params, claims: decodeJwt(jwt) }
}

for (const status of [301, 302, 303, 307, 308]) {
  t.test(`a ${status} redirect to the redirect_uri is captured`, async (t) => {
    redirectWith(status, (r) => `${r.params.get('redirect_uri')}?code=c-${status}&state=${r.params.get('state')}`)
    const { params } = await captured(t, await run())
    t.equal(params.get('code'), `c-${status}`)
  })
}

t.test('the legacy server receives a plain mode and a sealed state, never the client state', async (t) => {
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}?code=x&state=${r.params.get('state')}`)
  await run()
  const last = stack.received.at(-1)!
  t.equal(last.params.get('response_mode'), 'query')
  t.match(last.params.get('state'), /^jg1\./)
  t.not(last.params.get('state'), CLIENT_STATE)
})

t.test('awkward values survive: spaces, +, %, &, #, non-ASCII, empty values, bare keys', async (t) => {
  const values: Record<string, string> = { code: 'a b+c%d&e#f', note: 'Grüße, 東京 ✓', empty: '' }
  redirectWith(302, (r) => {
    const q = Object.entries(values).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')
    // `plus=a+b` is form encoding for "a b"; `bare` has no `=` at all.
    return `${r.params.get('redirect_uri')}?${q}&plus=a+b&bare&state=${r.params.get('state')}`
  })
  const { params, claims } = await captured(t, await run())
  t.equal(params.get('code'), 'a b+c%d&e#f')
  t.equal(params.get('note'), 'Grüße, 東京 ✓')
  t.equal(claims['empty'], '')
  t.equal(claims['bare'], '')
  t.equal(params.get('plus'), 'a b')
})

t.test('a raw UTF-8 Location (not percent-encoded) keeps its non-ASCII text', async (t) => {
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}?code=x&name=Grüße 東京&state=${r.params.get('state')}`)
  const { claims } = await captured(t, await run())
  t.equal(claims['name'], 'Grüße 東京')
})

t.test('a latin1 Location that is not UTF-8 is read as latin1', async (t) => {
  answer = (r, res) => res.writeHead(302, { location: `${r.params.get('redirect_uri')}?code=x&name=caf\u00e9&state=${r.params.get('state')}` }).end()
  const { claims } = await captured(t, await run())
  t.equal(claims['name'], 'café')
})

t.test('a fragment response is captured, and delivered in the mode the client asked for', async (t) => {
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}#code=f%23rag&state=${r.params.get('state')}&session_state=s%20s`)
  const { params } = await captured(t, await run({ response_mode: 'fragment.jwt' }), 'fragment')
  t.equal(params.get('code'), 'f#rag')
  t.equal(params.get('session_state'), 's s')
})

t.test("the redirect_uri's own query is kept apart from the response parameters", async (t) => {
  const own = 'https://client.example.org/cb?tenant=a%20b&x=1'
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}&code=own&state=${r.params.get('state')}`)
  const response = await run({ redirect_uri: own })
  const location = new URL(response.headers.get('location')!)
  t.same([...location.searchParams.keys()], ['tenant', 'x', 'response'], 'own query first, byte for byte, then response')
  t.ok(response.headers.get('location')!.startsWith(`${own}&response=`))
  const claims = decodeJwt(location.searchParams.get('response')!)
  t.equal(claims['code'], 'own')
  t.notOk('tenant' in claims, 'the own query is not a response parameter')
  t.notOk('x' in claims)
})

t.test('a fragment response keeps the own query in the query', async (t) => {
  const own = 'https://client.example.org/cb?tenant=t'
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}#code=frag&state=${r.params.get('state')}`)
  const claims = decodeJwt(new URLSearchParams(new URL((await run({ redirect_uri: own, response_mode: 'fragment.jwt' })).headers.get('location')!).hash.slice(1)).get('response')!)
  t.equal(claims['code'], 'frag')
  t.notOk('tenant' in claims)
})

t.test('a relative Location is resolved against the gateway address', async (t) => {
  const onGateway = `${stack.gatewayUrl}/app/cb`
  redirectWith(302, (r) => `/app/cb?code=rel&state=${r.params.get('state')}`)
  const response = await run({ redirect_uri: onGateway })
  const { params } = await captured(t, response, 'query', onGateway)
  t.equal(params.get('code'), 'rel')
})

t.test('an error redirect is wrapped too', async (t) => {
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}?error=access_denied&error_description=the+user+said+no&state=${r.params.get('state')}`)
  const response = await run()
  const jwt = new URL(response.headers.get('location')!).searchParams.get('response')!
  const error = await t.rejects(judge(as, APP1, new URLSearchParams({ response: jwt }), CLIENT_STATE))
  t.ok(error instanceof oauth.AuthorizationResponseError)
  t.equal(decodeJwt(jwt)['error_description'], 'the user said no')
})

t.test('a redirect elsewhere that echoes the sealed state (a login page) passes through untouched', async (t) => {
  let location = ''
  redirectWith(302, (r) => { location = `/login?return_state=x&state=${r.params.get('state')}`; return location })
  const response = await run()
  t.equal(response.status, 302)
  t.equal(response.headers.get('location'), location)
})

t.test('a redirect with no sealed state: a credential to the flow\'s redirect_uri fails closed on the request that sealed it; anything else passes through untouched', async (t) => {
  // The answer to the very request that sealed a JWT flow for this redirect_uri: a plain code there
  // would travel in plain to a client that asked for a signed response (SECURITY.md, issue 15).
  redirectWith(302, () => 'https://client.example.org/cb?code=plain&state=someone-else')
  const refused = await run()
  t.equal(refused.status, 502)
  t.equal(refused.headers.get('location'), null)
  t.notMatch(await refused.text(), /code=plain/)
  for (const location of ['https://client.example.org/cb?error=access_denied&state=someone-else', 'https://client.example.org/other?code=plain&state=someone-else', '/login?code=otp&state=someone-else']) {
    redirectWith(302, () => location)
    const response = await run()
    t.equal(response.status, 302, location)
    t.equal(response.headers.get('location'), location)
  }
})

t.test('fails closed: the redirect_uri without its own query', async (t) => {
  redirectWith(302, (r) => `https://client.example.org/cb?code=x&state=${r.params.get('state')}`)
  const response = await run({ redirect_uri: 'https://client.example.org/cb?tenant=t' })
  t.equal(response.status, 502)
  t.equal(response.headers.get('location'), null)
  const page = await response.text()
  t.match(page, /capture_failed/)
  t.notMatch(page, /code=x/)
})

t.test('fails closed: a fragment response with extra query parameters', async (t) => {
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}?leak=1#code=x&state=${r.params.get('state')}`)
  const response = await run({ response_mode: 'fragment.jwt' })
  t.equal(response.status, 502)
  t.match(await response.text(), /capture_failed/)
})

t.test('a tampered sealed state never becomes a response', async (t) => {
  redirectWith(302, (r) => `${r.params.get('redirect_uri')}?code=x&state=${r.params.get('state')!.slice(0, -4)}AAAA`)
  const response = await run()
  t.equal(response.status, 400)
  t.match(await response.text(), /flow_state_invalid/)
})
