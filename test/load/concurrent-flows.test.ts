// Load: hundreds of concurrent complete flows through the gateway against a fast legacy fake, every
// JARM response verified with jose and the gateway's published JWKS (or the HS client's secret);
// then a smaller run against the real oidc-provider, judged by oauth4webapi. Zero failed flows.
// LOAD_FLOWS / LOAD_CONCURRENCY / LOAD_REAL_FLOWS make it bigger.
import t from 'tap'
import { decodeJwt } from 'jose'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { gatewayKeySet, HS_SECRET, runFlow, startFakeStack, verifyResponse, type FlowOptions } from '../helpers/fake-stack.js'
import { APP1, authorizationRequest, discover, judge } from '../helpers/judge.js'
import { pool } from '../helpers/pool.js'
import { startStack } from '../helpers/stack.js'

const FLOWS = Number(process.env['LOAD_FLOWS'] ?? 400)
const CONCURRENCY = Number(process.env['LOAD_CONCURRENCY'] ?? 200)
const REAL_FLOWS = Number(process.env['LOAD_REAL_FLOWS'] ?? 40)

t.test(`${FLOWS} complete flows, ${CONCURRENCY} at a time, against a fast legacy fake`, async (t) => {
  const stack = await startFakeStack()
  t.teardown(() => stack.close())
  const keys = await gatewayKeySet(stack.gatewayUrl)
  const secret = new TextEncoder().encode(HS_SECRET)
  const variants: FlowOptions[] = [
    { mode: 'query.jwt' }, { mode: 'fragment.jwt', responseType: 'code id_token' }, { mode: 'form_post.jwt' }, { mode: 'jwt' },
    { mode: 'query.jwt', clientId: 'hs' }, { mode: 'form_post.jwt', method: 'POST' }, { mode: 'query.jwt', clientId: 'unlisted', redirectUri: 'https://client.example.org/cb?tenant=a%20b' },
    { mode: 'fragment.jwt', state: undefined },
  ]
  const started = Date.now()
  const results = await pool(FLOWS, CONCURRENCY, async (index) => {
    const variant = variants[index % variants.length]!
    const state = 'state' in variant ? variant.state : `s-${index}`
    const flow = await runFlow(stack.gatewayUrl, { ...variant, state })
    const clientId = variant.clientId ?? 'app1'
    const { payload } = await verifyResponse(flow.response, clientId === 'hs' ? secret : keys, { issuer: stack.gatewayUrl, clientId, algorithms: [clientId === 'hs' ? 'HS256' : clientId === 'app1' ? 'ES256' : 'RS256'] })
    if (payload['state'] !== state) throw new Error(`flow ${index}: state ${String(payload['state'])} is not ${String(state)}`)
    if (typeof payload['code'] !== 'string') throw new Error(`flow ${index}: no code`)
    const expected = variant.mode === 'form_post.jwt' ? 'form' : variant.mode === 'fragment.jwt' ? 'fragment' : 'query'
    if (flow.where !== expected) throw new Error(`flow ${index}: delivered in ${flow.where}, not ${expected}`)
    return payload['code'] as string
  })
  const failed = results.filter((result) => !result.ok)
  t.equal(failed.length, 0, `zero failed flows (first: ${failed.slice(0, 3).map((f) => String((f as { error: Error }).error?.message)).join('; ')})`)
  const codes = new Set(results.flatMap((result) => result.ok ? [result.value] : []))
  t.equal(codes.size, FLOWS, 'every flow got its own code back: none lost, none crossed')
  t.equal(stack.logs.filter((line) => line['event'] === 'jarm.response').length, FLOWS, 'one signed response per flow')
  t.comment(`${FLOWS} flows (${FLOWS * 2} gateway requests) in ${Date.now() - started} ms, ${FLOWS} JARM responses verified`)
})

t.test(`${REAL_FLOWS} flows against the real oidc-provider, judged by oauth4webapi`, async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const as = await discover(stack.issuer)
  const keys = await gatewayKeySet(stack.gatewayUrl)
  const modes = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const
  const results = await pool(REAL_FLOWS, 8, async (index) => {
    const request = await authorizationRequest(as, { response_mode: modes[index % modes.length] })
    const arrival = await new BrowserAgent().run(request.url, { login: `user${index}` })
    const parameters = callbackParameters(arrival)
    await judge(as, APP1, parameters, request.state!)
    await verifyResponse(parameters.get('response')!, keys, { issuer: stack.issuer, clientId: 'app1', algorithms: ['ES256'] })
    return decodeJwt(parameters.get('response')!)['code']
  })
  const failed = results.filter((result) => !result.ok)
  t.equal(failed.length, 0, `zero failed flows (first: ${failed.slice(0, 3).map((f) => String((f as { error: Error }).error?.message)).join('; ')})`)
  t.equal(new Set(results.map((r) => r.ok ? r.value : undefined)).size, REAL_FLOWS, 'distinct codes')
  t.comment(`${REAL_FLOWS} real flows judged by oauth4webapi and verified with jose`)
})
