// The code flow in each of the four JARM modes, through the gateway in front of a real oidc-provider
// (JARM off), judged by oauth4webapi and redeemed at the token endpoint through the gateway.
import t from 'tap'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, authorizationRequest, discover, judge, redeem } from '../helpers/judge.js'
import { startStack, TEST_KEYS } from '../helpers/stack.js'

const stack = await startStack()
t.teardown(() => stack.close())
const as = await discover(stack.issuer)


t.test('discovery lists the JARM modes and exactly the algorithms the gateway signs with', async (t) => {
  t.same(as.response_modes_supported, ['form_post', 'fragment', 'query', 'query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'])
  t.same(as.authorization_signing_alg_values_supported, ['ES256', 'RS256', 'EdDSA'])
  t.equal(as.issuer, stack.issuer)
})

t.test('the JWKS at jwks_uri holds the legacy server keys and the gateway public keys', async (t) => {
  const jwks = await (await fetch(as.jwks_uri!)).json() as { keys: Array<Record<string, unknown>> }
  for (const key of TEST_KEYS.keys) {
    const published = jwks.keys.find((k) => k['kid'] === key.kid)
    t.ok(published, `gateway key ${key.kid} published`)
    t.equal(published?.['use'], 'sig')
    t.equal(published?.['alg'], key.alg)
    t.notOk(published !== undefined && 'd' in published, 'no private member')
  }
  t.ok(jwks.keys.length > TEST_KEYS.keys.length, 'the legacy server keys are still there')
})

const expectations = {
  'query.jwt': { where: 'query' },
  'fragment.jwt': { where: 'fragment' },
  'form_post.jwt': { where: 'form' },
  jwt: { where: 'query' },
} as const

for (const [mode, { where }] of Object.entries(expectations)) {
  t.test(`code flow, response_mode=${mode}: only response reaches the client, oauth4webapi accepts it, the code is redeemed`, async (t) => {
    const request = await authorizationRequest(as, { response_mode: mode })
    const arrival = await new BrowserAgent().run(request.url)
    if (where === 'form') {
      t.equal(arrival.kind, 'form')
      if (arrival.kind !== 'form') return
      t.equal(arrival.action, 'https://client.example.org/cb')
      t.same(arrival.fields.map(([name]) => name), ['response'])
      t.equal(arrival.headers.get('cache-control'), 'no-store')
      t.match(arrival.headers.get('content-security-policy'), /script-src 'sha256-[A-Za-z0-9+/=]+'/)
      t.match(arrival.html, /<noscript>[\s\S]*<button type="submit">/)
    } else {
      t.equal(arrival.kind, 'redirect')
      if (arrival.kind !== 'redirect') return
      t.equal(arrival.status, 303)
      t.equal(`${arrival.url.origin}${arrival.url.pathname}`, 'https://client.example.org/cb')
      if (where === 'query') {
        t.same([...arrival.url.searchParams.keys()], ['response'])
        t.equal(arrival.url.hash, '')
      } else {
        t.equal(arrival.url.search, '')
        t.same([...new URLSearchParams(arrival.url.hash.slice(1)).keys()], ['response'])
      }
    }
    const parameters = callbackParameters(arrival)
    const jwt = parameters.get('response')!
    const header = decodeProtectedHeader(jwt)
    t.equal(header.alg, 'ES256')
    t.equal(header.kid, TEST_KEYS.keys[0]!.kid, 'kid names the ES256 key')
    const claims = decodeJwt(jwt)
    t.equal(claims.iss, stack.issuer)
    t.equal(claims.aud, 'app1')
    t.equal(claims.state, request.state, 'state byte for byte')
    t.ok(claims.exp! - claims.iat! === 120, 'exp is iat + the default 120 s lifetime')
    t.notOk(Object.keys(claims).includes('session_state') && typeof claims['session_state'] !== 'string')
    const callback = await judge(as, APP1, parameters, request.state!)
    t.ok(callback.get('code'))
    const tokens = await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
    t.ok(tokens.access_token)
    t.ok(tokens.id_token)
  })
}

t.test('a POSTed authorization request (form body) gets the same JARM response', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const endpoint = new URL(as.authorization_endpoint!)
  const arrival = await new BrowserAgent().run(endpoint, { method: 'POST', body: request.url.searchParams.toString() })
  t.equal(arrival.kind, 'redirect')
  const callback = await judge(as, APP1, callbackParameters(arrival), request.state!)
  await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
})

t.test('the log names the flow but never holds a code, a state or a response', async (t) => {
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const arrival = await new BrowserAgent().run(request.url)
  const jwt = callbackParameters(arrival).get('response')!
  const code = decodeJwt(jwt)['code'] as string
  const text = stack.rawLogs.join('')
  t.notOk(text.includes(code), 'no code')
  t.notOk(text.includes(request.state!), 'no state')
  t.notOk(text.includes(jwt.split('.')[2]!), 'no response')
  t.ok(stack.logs.some((line) => line['event'] === 'jarm.response' && line['clientId'] === 'app1' && line['outcome'] === 'success'))
})
