// Pushed Authorization Requests (RFC 9126) through the gateway to a real oidc-provider (JARM off,
// PAR on): the pushed body is rewritten (plain mode, sealed state) with the client's authentication
// left intact (Basic header, client_secret in the body, private_key_jwt assertion); the front-channel
// request carries only client_id and request_uri, and its answer is captured like any other.
import t from 'tap'
import { decodeJwt } from 'jose'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, discover, judge, oauth } from '../helpers/judge.js'
import { APP3, APP3_SECRET, APP4, APP4_KEY, codeFlowParameters, redeemWith, REDIRECT_URI, startRequestStack, unsignedJwt } from '../helpers/request-clients.js'

const stack = await startRequestStack()
t.teardown(() => stack.close())
const as = await discover(stack.issuer)
const insecure = { [oauth.allowInsecureRequests]: true }


async function push (client: oauth.Client, auth: oauth.ClientAuth, parameters: Record<string, string>): Promise<Response> {
  return oauth.pushedAuthorizationRequest(as, client, auth, parameters, insecure)
}

function frontChannel (clientId: string, requestUri: string): URL {
  const url = new URL(as.authorization_endpoint!)
  url.searchParams.set('client_id', clientId)
  url.searchParams.set('request_uri', requestUri)
  return url
}

t.test('discovery through the gateway names the PAR endpoint', async (t) => {
  t.equal(as.pushed_authorization_request_endpoint, `${stack.issuer}/request`)
})

const flows = [
  { name: 'client_secret_basic', client: APP1, auth: oauth.ClientSecretBasic(APP1_SECRET), mode: 'jwt', where: 'redirect' },
  { name: 'client_secret_post', client: APP3, auth: oauth.ClientSecretPost(APP3_SECRET), mode: 'form_post.jwt', where: 'form' },
  { name: 'private_key_jwt', client: APP4, auth: oauth.PrivateKeyJwt(APP4_KEY), mode: 'fragment.jwt', where: 'redirect' },
] as const

for (const { name, client, auth, mode, where } of flows) {
  t.test(`PAR with ${name}, response_mode=${mode}: captured, judged, redeemed`, async (t) => {
    const flow = await codeFlowParameters(client.client_id, { response_mode: mode })
    const pushed = await oauth.processPushedAuthorizationResponse(as, client, await push(client, auth, flow.parameters))
    t.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:/)
    const request = [...stack.logs].reverse().find((line) => line['event'] === 'jarm.request')!
    t.equal(request['clientId'], client.client_id, 'the pushed request was rewritten')
    t.equal(request['upstreamMode'], 'query')
    const arrival = await new BrowserAgent().run(frontChannel(client.client_id, pushed.request_uri))
    t.equal(arrival.kind, where)
    const callback = callbackParameters(arrival)
    t.same([...callback.keys()], ['response'])
    const params = await judge(as, client, callback, flow.state)
    t.equal(decodeJwt(callback.get('response')!).state, flow.state, 'the client state comes back from the pushed request')
    const tokens = await redeemWith(as, client, auth, params, flow.verifier, flow.nonce)
    t.ok(tokens.access_token)
  })
}

t.test('a pushed request without a JWT mode passes through untouched', async (t) => {
  const flow = await codeFlowParameters('app1')
  const pushed = await oauth.processPushedAuthorizationResponse(as, APP1, await push(APP1, oauth.ClientSecretBasic(APP1_SECRET), flow.parameters))
  const arrival = await new BrowserAgent().run(frontChannel('app1', pushed.request_uri))
  t.equal(arrival.kind, 'redirect')
  const params = oauth.validateAuthResponse(as, APP1, callbackParameters(arrival), flow.state)
  t.ok(params.get('code'), 'a plain response, as the client asked')
})

t.test('a pushed request with a repeated parameter: a JSON OAuth error, not a page', async (t) => {
  const flow = await codeFlowParameters('app1', { response_mode: 'query.jwt' })
  const body = `${new URLSearchParams(flow.parameters).toString()}&state=again`
  const response = await fetch(as.pushed_authorization_request_endpoint!, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`app1:${APP1_SECRET}`).toString('base64')}` },
  })
  t.equal(response.status, 400)
  t.match(response.headers.get('content-type'), /^application\/json/)
  t.equal(response.headers.get('cache-control'), 'no-store')
  t.same(await response.json(), { error: 'invalid_request', error_description: 'parameter state must not be sent more than once' })
})

t.test('a JWT mode inside a pushed request object: invalid_request_object as JSON', async (t) => {
  const flow = await codeFlowParameters('app4', { response_mode: 'query.jwt' })
  const requestObject = await oauth.issueRequestObject(as, APP4, flow.parameters, APP4_KEY)
  const response = await push(APP4, oauth.PrivateKeyJwt(APP4_KEY), { client_id: 'app4', request: requestObject })
  t.equal(response.status, 400)
  const body = await response.json() as Record<string, string>
  t.equal(body['error'], 'invalid_request_object')
  t.match(body['error_description'], /its request objects cannot be verified/)
})

t.test('a plain pushed request object passes through to the legacy server, which verifies it', async (t) => {
  const flow = await codeFlowParameters('app4')
  const requestObject = await oauth.issueRequestObject(as, APP4, flow.parameters, APP4_KEY)
  const pushed = await oauth.processPushedAuthorizationResponse(as, APP4, await push(APP4, oauth.PrivateKeyJwt(APP4_KEY), { client_id: 'app4', request: requestObject }))
  const arrival = await new BrowserAgent().run(frontChannel('app4', pushed.request_uri))
  const params = oauth.validateAuthResponse(as, APP4, callbackParameters(arrival), flow.state)
  t.ok((await redeemWith(as, APP4, oauth.PrivateKeyJwt(APP4_KEY), params, flow.verifier, flow.nonce)).access_token)
})

t.test('an unsigned request object with a JWT mode is refused the same way', async (t) => {
  const response = await push(APP1, oauth.ClientSecretBasic(APP1_SECRET), { client_id: 'app1', request: unsignedJwt({ client_id: 'app1', response_mode: 'form_post.jwt', redirect_uri: REDIRECT_URI }) })
  t.equal(response.status, 400)
  t.equal((await response.json() as Record<string, string>)['error'], 'invalid_request_object')
})

t.test('a front-channel request_uri with a JWT mode beside it is refused', async (t) => {
  const url = frontChannel('app1', 'urn:ietf:params:oauth:request_uri:whatever')
  url.searchParams.set('response_mode', 'query.jwt')
  const response = await fetch(url, { redirect: 'manual' })
  t.equal(response.status, 400)
  t.match(await response.text(), /invalid_parameter/)
})

t.test('a pushed body above limits.authorization_request_bytes: 413 as JSON', async (t) => {
  const flow = await codeFlowParameters('app1', { response_mode: 'query.jwt', padding: 'x'.repeat(70_000) })
  const response = await push(APP1, oauth.ClientSecretBasic(APP1_SECRET), flow.parameters)
  t.equal(response.status, 413)
  t.same(await response.json(), { error: 'invalid_request', error_description: 'the authorization request body is larger than 65536 bytes' })
})
