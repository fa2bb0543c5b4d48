// Parameters repeated inside the query, inside a POSTed body, or between the two are refused
// (RFC 6749 §3.1), so the gateway and the legacy server never read different values; a POSTed
// request is forwarded with the query's parameters moved into its body. Real oidc-provider.
import t, { type Test } from 'tap'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, authorizationRequest, discover, judge, redeem } from '../helpers/judge.js'
import { startStack } from '../helpers/stack.js'

const stack = await startStack()
t.teardown(() => stack.close())
const as = await discover(stack.issuer)
const endpoint = as.authorization_endpoint!

async function post (query: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(`${endpoint}${query === '' ? '' : `?${query}`}`, { method: 'POST', body, headers: { 'content-type': contentType }, redirect: 'manual' })
}

async function refused (t: Test, response: Response, parameter: string): Promise<void> {
  t.equal(response.status, 400)
  t.equal(response.headers.get('location'), null, 'never a redirect')
  const page = await response.text()
  t.match(page, /duplicate_parameter/)
  t.match(page, new RegExp(`parameter ${parameter} must not be sent more than once`))
}

t.test('a parameter twice in the query', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  request.url.searchParams.append('scope', 'openid email')
  await refused(t, await fetch(request.url, { redirect: 'manual' }), 'scope')
})

t.test('a parameter twice in a POSTed body', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  await refused(t, await post('', `${request.url.searchParams.toString()}&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb`), 'redirect_uri')
})

t.test('a parameter in both the query and the POSTed body, even with the same value', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  await refused(t, await post(`client_id=app1`, request.url.searchParams.toString()), 'client_id')
})

t.test('response_mode in the query and a JWT mode in the body', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'form_post.jwt' })
  await refused(t, await post('response_mode=query', request.url.searchParams.toString()), 'response_mode')
})

t.test('a POST split between query and body reaches the legacy server as one body, and is captured', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const all = request.url.searchParams
  const query = new URLSearchParams([['response_mode', all.get('response_mode')!], ['client_id', 'app1']])
  const body = new URLSearchParams([...all].filter(([name]) => name !== 'response_mode' && name !== 'client_id'))
  const arrival = await new BrowserAgent().run(new URL(`${endpoint}?${query.toString()}`), { method: 'POST', body: body.toString() })
  t.equal(arrival.kind, 'redirect')
  if (arrival.kind !== 'redirect') return
  const callback = await judge(as, APP1, arrival.url.searchParams, request.state!)
  t.ok((await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)).access_token)
})

t.test('a JWT mode in the query of a POST whose body is not a form: 415, not forwarded unread', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const response = await post(request.url.searchParams.toString(), '{"client_id":"app1"}', 'application/json')
  t.equal(response.status, 415)
  t.match(await response.text(), /unsupported_media_type/)
})

t.test('a POST to the authorization endpoint with a non-form body is refused, JWT mode or not: the legacy server could read parameters from it that the gateway never saw', async (t) => {
  const response = await post('client_id=app1', '{"response_mode":"query.jwt"}', 'application/json')
  t.equal(response.status, 415)
  t.match(await response.text(), /unsupported_media_type/)
})

t.test('repeated parameters in a request without a JWT mode are the legacy server\'s business', async (t) => {
  const request = await authorizationRequest(as, {})
  request.url.searchParams.append('scope', 'openid')
  const response = await fetch(request.url, { redirect: 'manual' })
  t.not(response.status, 400, 'not refused by the gateway')
  await response.arrayBuffer()
})
