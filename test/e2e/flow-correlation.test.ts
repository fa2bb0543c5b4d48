// Correlation without a shared store: errors, missing state, redirect_uri queries, interleaved
// flows, two gateway processes, tampered and expired sealed state, and plain flows left alone.
import t from 'tap'
import { decodeJwt } from 'jose'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { BrowserAgent, type Arrival } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, authorizationRequest, discover, judge, oauth, redeem } from '../helpers/judge.js'
import { startStack, STATE_SECRET } from '../helpers/stack.js'

let clockOffsetMs = 0
const stack = await startStack({ gateways: 2, now: () => Date.now() + clockOffsetMs })
t.teardown(() => stack.close())
const as = await discover(stack.issuer)

function redirected (t: Pick<typeof import('tap').t, 'equal'>, arrival: Arrival): URL {
  t.equal(arrival.kind, 'redirect', 'the flow ends in a redirect to the client')
  if (arrival.kind !== 'redirect') throw new Error(`ended on ${arrival.kind} ${arrival.status}: ${'text' in arrival ? arrival.text : ''}`)
  return arrival.url
}

t.test('a denied consent comes back as an access_denied JARM error, judged by oauth4webapi', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const url = redirected(t, await new BrowserAgent().run(request.url, { deny: true }))
  t.same([...url.searchParams.keys()], ['response'])
  const claims = decodeJwt(url.searchParams.get('response')!)
  t.equal(claims['error'], 'access_denied')
  t.equal(claims.state, request.state)
  t.equal(claims.iss, stack.issuer)
  t.notOk('code' in claims)
  await t.rejects(judge(as, APP1, url.searchParams, request.state!), { name: 'AuthorizationResponseError', error: 'access_denied' })
})

t.test('a client that sent no state gets a response without state', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'fragment.jwt', state: undefined })
  const url = redirected(t, await new BrowserAgent().run(request.url))
  const parameters = new URLSearchParams(url.hash.slice(1))
  t.notOk('state' in decodeJwt(parameters.get('response')!))
  const callback = await judge(as, APP1, parameters, oauth.expectNoState)
  await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
})

t.test('a redirect_uri with its own query keeps it byte for byte, beside response', async (t) => {
  const redirectUri = 'https://client.example.org/cb?tenant=a%20b&x=1'
  const request = await authorizationRequest(as, { response_mode: 'query.jwt', redirect_uri: redirectUri })
  const arrival = await new BrowserAgent().run(request.url)
  const url = redirected(t, arrival)
  t.match(url.href, /^https:\/\/client\.example\.org\/cb\?tenant=a%20b&x=1&response=[\w-]+\.[\w-]+\.[\w-]+$/)
  const claims = decodeJwt(url.searchParams.get('response')!)
  t.notOk('tenant' in claims || 'x' in claims, 'the own query is not a response parameter')
  const callback = await judge(as, APP1, new URLSearchParams({ response: url.searchParams.get('response')! }), request.state!)
  await redeem(as, APP1, APP1_SECRET, callback, redirectUri, request.verifier, request.nonce)
})

t.test('two flows interleaved in two browsers each get their own response', async (t) => {
  const first = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const second = await authorizationRequest(as, { response_mode: 'form_post.jwt', client_id: 'app2', redirect_uri: 'https://app2.example.org/callback' })
  const [a, b] = await Promise.all([new BrowserAgent().run(first.url, { login: 'alice' }), new BrowserAgent().run(second.url, { login: 'bob' })])
  const aParameters = redirected(t, a).searchParams
  t.equal(b.kind, 'form')
  if (b.kind !== 'form') return
  t.equal(b.action, 'https://app2.example.org/callback')
  const bParameters = new URLSearchParams(b.fields)
  await judge(as, APP1, aParameters, first.state!)
  // app2 is not listed in the config: it gets the default algorithm, RS256 (JARM §3).
  await judge(as, { client_id: 'app2' }, bParameters, second.state!)
  t.equal(decodeJwt(bParameters.get('response')!).aud, 'app2')
  await t.rejects(judge(as, APP1, bParameters, second.state!), 'a response for app2 is not one for app1')
})

t.test('a flow started on one gateway process is finished by another', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'jwt' })
  const second = new URL(stack.gateways[1]!.url)
  t.not(second.port, new URL(stack.gatewayUrl).port)
  const url = redirected(t, await new BrowserAgent().run(request.url, { via: second }))
  const state = (line: Record<string, unknown>): boolean => line['clientId'] === 'app1'
  t.equal(stack.logs.filter((line) => line['event'] === 'jarm.request' && state(line)).at(-1)?.['gateway'], 0, 'the first process sealed the flow')
  t.equal(stack.logs.filter((line) => line['event'] === 'jarm.response' && state(line)).at(-1)?.['gateway'], 1, 'the second one answered it')
  const callback = await judge(as, APP1, url.searchParams, request.state!)
  await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
})

/** Sends a sealed state through the legacy server as if it were the gateway's, and returns what the browser gets back. */
async function replay (sealed: string): Promise<Arrival> {
  const request = await authorizationRequest(as, { response_mode: 'query', state: sealed })
  return new BrowserAgent().run(request.url)
}

const flow = { mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://client.example.org/cb', responseType: 'code', state: 'client-state' } as const

t.test('a tampered sealed state is never turned into a response: the browser gets an error page', async (t) => {
  const sealed = new FlowStateSealer([STATE_SECRET], 600).seal(flow)
  const tampered = sealed.slice(0, 20) + (sealed[20] === 'A' ? 'B' : 'A') + sealed.slice(21)
  const arrival = await replay(tampered)
  t.equal(arrival.kind, 'page')
  if (arrival.kind !== 'page') return
  t.equal(arrival.status, 400)
  t.match(arrival.text, /This sign-in flow cannot be completed/)
  t.match(arrival.text, /flow_state_invalid/)
  t.notMatch(arrival.text, /code=/)
})

t.test('a state sealed with another secret is refused the same way', async (t) => {
  const arrival = await replay(new FlowStateSealer(['another-secret-another-secret-another-secret'], 600).seal(flow))
  t.equal(arrival.status, 400)
  t.match(arrival.kind === 'page' ? arrival.text : '', /flow_state_invalid/)
})

t.test('an expired sealed state ends on an error page', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const agent = new BrowserAgent()
  // The flow starts now; the user comes back after the flow lifetime (30 min by default).
  const first = await agent.request(request.url)
  t.equal(first.status, 303)
  clockOffsetMs = 31 * 60 * 1000
  t.teardown(() => { clockOffsetMs = 0 })
  const arrival = await agent.run(new URL(first.headers.get('location')!, stack.gatewayUrl))
  t.equal(arrival.kind, 'page')
  t.equal(arrival.status, 400)
  t.match(arrival.kind === 'page' ? arrival.text : '', /This sign-in flow has expired/)
})

t.test('a plain flow (no JWT mode) is left untouched', async (t) => {
  const request = await authorizationRequest(as, {})
  const url = redirected(t, await new BrowserAgent().run(request.url))
  t.same([...url.searchParams.keys()].sort(), ['code', 'iss', 'state'])
  t.equal(url.searchParams.get('state'), request.state)
  const callback = oauth.validateAuthResponse(as, APP1, url.searchParams, request.state!)
  await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
})

t.test('refused authorization requests get a plain page, never a redirect', async (t) => {
  const agent = new BrowserAgent()
  const cases: Array<[Record<string, string | undefined>, RegExp, string]> = [
    [{ response_mode: 'query.jwt', redirect_uri: undefined }, /parameter redirect_uri is required with a JWT response mode/, 'missing redirect_uri'],
    [{ response_mode: 'query.jwt', redirect_uri: 'not a url' }, /parameter redirect_uri must be an absolute URL/, 'relative redirect_uri'],
    [{ response_mode: 'query.jwt', response_type: 'code id_token' }, /query.jwt cannot carry the tokens of response_type code id_token/, 'query.jwt with tokens'],
    [{ response_mode: 'jwt', request_uri: 'urn:example:x' }, /cannot be combined with request or request_uri/, 'request_uri with a JWT mode'],
  ]
  for (const [parameters, message, name] of cases) {
    const request = await authorizationRequest(as, parameters)
    const response = await agent.request(request.url)
    t.equal(response.status, 400, name)
    t.equal(response.headers.get('location'), null, `${name}: no redirect`)
    t.match(await response.text(), message, name)
  }
  const duplicate = await authorizationRequest(as, { response_mode: 'query.jwt' })
  duplicate.url.searchParams.append('state', 'another')
  const response = await agent.request(duplicate.url)
  t.equal(response.status, 400)
  t.match(await response.text(), /parameter state must not be sent more than once/)
  const modes = await authorizationRequest(as, { response_mode: 'query' })
  modes.url.searchParams.append('response_mode', 'query.jwt')
  t.match(await (await agent.request(modes.url)).text(), /parameter response_mode must not be sent more than once/)
})
