// Implicit and hybrid response types through fragment.jwt, form_post.jwt and jwt, and `none` through
// every mode, end to end through the real legacy server with the ID token checked. query.jwt with
// tokens: a JARM error when the config vouches for the redirect_uri, a page otherwise. And the
// policy for clients the config does not list.
import t from 'tap'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { authorizationRequest, discover, judge, judgeHybrid, redeem } from '../helpers/judge.js'
import { legacyClient, legacyWith, REDIRECT_URI, secretOf } from '../helpers/response-security.js'
import { callbackParameters } from '../helpers/browser-agent.js'
import { startStack } from '../helpers/stack.js'

const stack = await startStack({
  config: {
    clients: {
      vouched: { authorization_signed_response_alg: 'ES256', redirect_uris: [REDIRECT_URI] },
      unvouched: { authorization_signed_response_alg: 'ES256' },
    },
  },
  legacy: legacyWith([legacyClient('vouched'), legacyClient('unvouched')]),
})
t.teardown(() => stack.close())
const as = await discover(stack.issuer)
const client = { client_id: 'vouched', authorization_signed_response_alg: 'ES256' }

const TOKEN_TYPES = ['id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token']
for (const responseType of TOKEN_TYPES) {
  for (const mode of ['fragment.jwt', 'form_post.jwt', 'jwt'] as const) {
    t.test(`response_type=${responseType}, response_mode=${mode}`, async (t) => {
      const request = await authorizationRequest(as, { client_id: 'vouched', response_type: responseType, response_mode: mode, ...(responseType.includes('code') ? {} : { code_challenge: undefined, code_challenge_method: undefined }) })
      const arrival = await new BrowserAgent().run(request.url)
      t.equal(arrival.kind, mode === 'form_post.jwt' ? 'form' : 'redirect')
      if (arrival.kind === 'redirect') {
        t.equal(arrival.url.search, '', 'nothing in the query: tokens travel in the fragment')
        t.same([...new URLSearchParams(arrival.url.hash.slice(1)).keys()], ['response'])
      }
      const parameters = callbackParameters(arrival)
      t.equal(decodeProtectedHeader(parameters.get('response')!).alg, 'ES256')
      const callback = await judgeHybrid(as, client, parameters, request)
      const claims = decodeJwt(parameters.get('response')!)
      for (const type of responseType.split(' ')) t.type(claims[type === 'token' ? 'access_token' : type], 'string', `${type} in the response`)
      if (responseType.includes('token ') || responseType.endsWith(' token')) {
        t.equal(String(claims['token_type']).toLowerCase(), 'bearer')
        t.equal(typeof claims['expires_in'], 'number', 'expires_in is a JSON number')
      }
      if (responseType.includes('code')) {
        const tokens = await redeem(as, client, secretOf('vouched'), callback, REDIRECT_URI, request.verifier, request.nonce)
        t.ok(tokens.id_token)
      }
    })
  }
}

for (const mode of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const) {
  t.test(`response_type=none, response_mode=${mode}: only state comes back, judged by oauth4webapi`, async (t) => {
    const request = await authorizationRequest(as, { client_id: 'vouched', response_type: 'none', response_mode: mode, code_challenge: undefined, code_challenge_method: undefined })
    const arrival = await new BrowserAgent().run(request.url)
    t.equal(arrival.kind, mode === 'form_post.jwt' ? 'form' : 'redirect')
    const parameters = callbackParameters(arrival)
    if (arrival.kind === 'redirect') t.equal(arrival.url.hash === '', mode === 'query.jwt' || mode === 'jwt', 'jwt resolves to query.jwt for none')
    const callback = await judge(as, client, parameters, request.state!)
    t.same([...callback.keys()].filter((name) => name !== 'iss' && name !== 'session_state'), ['state'])
  })
}

t.test('query.jwt with tokens to a redirect_uri the config vouches for: an invalid_request JARM error, the legacy server never asked', async (t) => {
  const request = await authorizationRequest(as, { client_id: 'vouched', response_type: 'code id_token', response_mode: 'query.jwt' })
  const requestsBefore = stack.logs.filter((line) => line['event'] === 'jarm.request').length
  const response = await new BrowserAgent().request(request.url)
  t.equal(response.status, 303)
  const location = new URL(response.headers.get('location')!)
  t.equal(`${location.origin}${location.pathname}`, REDIRECT_URI)
  t.same([...location.searchParams.keys()], ['response'])
  const claims = decodeJwt(location.searchParams.get('response')!)
  t.equal(claims['error'], 'invalid_request')
  t.match(claims['error_description'], /query.jwt cannot carry the tokens of response_type code id_token/)
  t.equal(claims.state, request.state)
  await t.rejects(judge(as, client, location.searchParams, request.state!), { name: 'AuthorizationResponseError', error: 'invalid_request' })
  t.equal(stack.logs.filter((line) => line['event'] === 'jarm.request').length, requestsBefore, 'no flow was started')
  t.ok(stack.logs.some((line) => line['event'] === 'jarm.refused' && line['clientId'] === 'vouched'))
})

t.test('query.jwt with tokens where nobody vouched for the redirect_uri: a plain page, no redirect', async (t) => {
  const agent = new BrowserAgent()
  // A redirect_uri outside the client's configured list is refused before anything else.
  for (const [clientId, redirectUri, code] of [['unvouched', REDIRECT_URI, /response_mode_not_allowed/], ['vouched', 'https://client.example.org/elsewhere', /redirect_uri_not_allowed/], ['not-listed', REDIRECT_URI, /response_mode_not_allowed/]] as const) {
    const request = await authorizationRequest(as, { client_id: clientId, redirect_uri: redirectUri, response_type: 'id_token token', response_mode: 'query.jwt', code_challenge: undefined })
    const response = await agent.request(request.url)
    t.equal(response.status, 400, clientId)
    t.equal(response.headers.get('location'), null)
    t.match(await response.text(), code)
  }
})

t.test('unlisted_clients: refuse turns unlisted clients away with a page; listed ones still work', async (t) => {
  const strict = await startStack({ config: { unlisted_clients: 'refuse' } })
  t.teardown(() => strict.close())
  const strictAs = await discover(strict.issuer)
  const refused = await authorizationRequest(strictAs, { client_id: 'app2', redirect_uri: 'https://app2.example.org/callback', response_mode: 'query.jwt' })
  const response = await new BrowserAgent().request(refused.url)
  t.equal(response.status, 400)
  t.equal(response.headers.get('location'), null)
  const page = await response.text()
  t.match(page, /client_not_allowed/)
  t.match(page, /client app2 is not configured for JWT response modes on this gateway/)
  const plain = await authorizationRequest(strictAs, { client_id: 'app2', redirect_uri: 'https://app2.example.org/callback' })
  t.equal((await new BrowserAgent().run(plain.url)).kind, 'redirect', 'a plain request of the same client is not the gateway\'s business')
  const listed = await authorizationRequest(strictAs, { response_mode: 'query.jwt' })
  const callback = await judge(strictAs, { client_id: 'app1', authorization_signed_response_alg: 'ES256' }, callbackParameters(await new BrowserAgent().run(listed.url)), listed.state!)
  t.ok(callback.get('code'))
})
