// The legacy server asked for each plain mode (a query redirect, a fragment redirect, its own real
// form_post page), and an issuer with a path: every client mode still gets a JARM response.
import t from 'tap'
import { decodeJwt } from 'jose'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, authorizationRequest, discover, judge, redeem } from '../helpers/judge.js'
import { startStack } from '../helpers/stack.js'


for (const upstreamMode of ['fragment', 'form_post'] as const) {
  t.test(`the legacy server answers in ${upstreamMode}`, async (t) => {
    const stack = await startStack({ config: { upstream: { response_mode: upstreamMode } } })
    t.teardown(() => stack.close())
    const as = await discover(stack.issuer)
    for (const mode of ['query.jwt', 'fragment.jwt', 'form_post.jwt'] as const) {
      const request = await authorizationRequest(as, { response_mode: mode })
      const arrival = await new BrowserAgent().run(request.url)
      t.equal(arrival.kind, mode === 'form_post.jwt' ? 'form' : 'redirect', `${mode}: delivered as asked`)
      const parameters = callbackParameters(arrival)
      t.same([...parameters.keys()], ['response'], `${mode}: only response`)
      const callback = await judge(as, APP1, parameters, request.state!)
      await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
    }
    t.ok(stack.logs.some((line) => line['event'] === 'jarm.request' && line['upstreamMode'] === upstreamMode))
  })
}

t.test('a denied consent through the legacy server form_post page is a JARM error', async (t) => {
  const stack = await startStack({ config: { upstream: { response_mode: 'form_post' } } })
  t.teardown(() => stack.close())
  const as = await discover(stack.issuer)
  const request = await authorizationRequest(as, { response_mode: 'form_post.jwt' })
  const arrival = await new BrowserAgent().run(request.url, { deny: true })
  // oidc-provider answers errors with a 400 form_post page; the client still gets a 200 JARM page.
  t.equal(arrival.kind, 'form')
  t.equal(arrival.status, 200)
  const claims = decodeJwt(callbackParameters(arrival).get('response')!)
  t.equal(claims['error'], 'access_denied')
  t.equal(claims['error_description'], 'End-User aborted interaction')
})

t.test('an issuer with a path: discovery found under it, iss exact, flow judged', async (t) => {
  const stack = await startStack({ issuerPath: '/realms/main', configureIssuer: true })
  t.teardown(() => stack.close())
  const as = await discover(stack.issuer)
  t.equal(as.issuer, `${stack.gatewayUrl}/realms/main`)
  t.ok(as.response_modes_supported?.includes('jwt'))
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const parameters = callbackParameters(await new BrowserAgent().run(request.url))
  t.equal(decodeJwt(parameters.get('response')!).iss, `${stack.gatewayUrl}/realms/main`)
  const callback = await judge(as, APP1, parameters, request.state!)
  await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
})

t.test('an issuer with a path, discovery path and authorization endpoint configured', async (t) => {
  const stack = await startStack({ issuerPath: '/realms/main', config: { upstream: { discovery_path: '/realms/main/.well-known/openid-configuration', authorization_endpoint: '/realms/main/auth' } } })
  t.teardown(() => stack.close())
  const as = await discover(stack.issuer)
  const request = await authorizationRequest(as, { response_mode: 'fragment.jwt' })
  const parameters = callbackParameters(await new BrowserAgent().run(request.url))
  await judge(as, APP1, parameters, request.state!)
})
