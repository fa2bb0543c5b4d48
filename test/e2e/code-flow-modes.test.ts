import t from 'tap'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, authorizationRequest, discover, judge, redeem } from '../helpers/judge.js'
import { startStack } from '../helpers/stack.js'

const stack = await startStack()
t.teardown(() => stack.close())
const as = await discover(stack.issuer)

t.test('discovery lists the JARM modes and the signing algorithms', async (t) => {
  t.same(as.response_modes_supported, ['form_post', 'fragment', 'query', 'query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'])
  t.same(as.authorization_signing_alg_values_supported, ['ES256', 'RS256', 'EdDSA'])
})

for (const mode of ['query.jwt', 'jwt'] as const) {
  t.test(`code flow, response_mode=${mode}: a redirect with only response, accepted by oauth4webapi, code redeemed`, async (t) => {
    const request = await authorizationRequest(as, { response_mode: mode })
    const arrival = await new BrowserAgent().run(request.url)
    t.equal(arrival.kind, 'redirect')
    if (arrival.kind !== 'redirect') return
    t.equal(arrival.status, 303)
    t.equal(`${arrival.url.origin}${arrival.url.pathname}`, 'https://client.example.org/cb')
    t.same([...arrival.url.searchParams.keys()], ['response'])
    t.equal(arrival.url.hash, '')
    const callback = await judge(as, APP1, arrival.url.searchParams, request.state!)
    t.ok(callback.get('code'))
    const tokens = await redeem(as, APP1, APP1_SECRET, callback, 'https://client.example.org/cb', request.verifier, request.nonce)
    t.ok(tokens.access_token)
    t.ok(tokens.id_token)
  })
}
