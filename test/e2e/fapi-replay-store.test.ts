// One-time use across replicas (RFC 9126 §7.3), end to end: two gateway processes' worth (each
// built from its own configuration, so nothing is shared in memory) in front of one real
// oidc-provider (JAR, PAR, JARM off), sharing a private real Redis. A request_uri, a request
// object's jti and a client assertion's jti used at one gateway are refused at the other. With
// Redis stopped, what needs it fails closed (replay_store_unavailable, 503) while a plain JARM flow
// still works, and readiness reports `replay_store`; once Redis is back, so is PAR. A control
// without replay_store shows what the shared store is for.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { listen, serve, type RunningGateway } from '../../src/server.js'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import {
  AUTH, authorizationUrl, byValue, ES_KEY, errorPageOf, FAPI_ES, FAPI_PAR, FAPI_SECRET, FAPI_SECRET_CLIENT, fapiParameters, GATEWAY_FAPI_CLIENTS, insecure,
  jarmError, PAR_KEY, PAR_PATH, startFapiStack,
} from '../helpers/fapi-stack.js'
import { discover, judge, oauth } from '../helpers/judge.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { STATE_SECRET, TEST_KEYS, type Stack } from '../helpers/stack.js'

const redis = await startRedisServer()
t.teardown(() => redis.remove())

/** Another gateway process in front of the same legacy server, built from its own config. */
async function anotherGateway (stack: Stack, settings: Record<string, unknown>): Promise<RunningGateway> {
  const server = await listen('127.0.0.1', 0)
  const config = await buildConfig({ upstream: { url: stack.legacy.url }, keys: TEST_KEYS, state: { secrets: [STATE_SECRET] }, clients: GATEWAY_FAPI_CLIENTS, ...settings }, process.cwd())
  const running = serve(server, config, stack.logger.child({ gateway: 'second' }))
  await running.gateway.start()
  return running
}

async function stop (running: RunningGateway): Promise<void> {
  running.server.closeAllConnections()
  await running.close()
}

/** The same request at another gateway's origin. */
const at = (gateway: RunningGateway, url: URL): URL => new URL(`${url.pathname}${url.search}`, gateway.url)

async function readiness (url: string): Promise<{ status: number, checks: Record<string, string> }> {
  const response = await fetch(new URL('/readyz', url))
  return { status: response.status, checks: (await response.json() as { checks: Record<string, string> }).checks }
}

const shared = { replay_store: { url: redis.url, command_timeout_ms: 300 }, pushed_authorization_requests: { serve: 'gateway' } }
const stack = await startFapiStack({ config: shared })
const second = await anotherGateway(stack, shared)
t.teardown(async () => { await stop(second); await stack.close() })
const as = await discover(stack.issuer)

/** A client_secret_basic push (no object, no assertion: the push itself needs no replay store). */
async function pushPlain (): Promise<{ requestUri: string, flow: Awaited<ReturnType<typeof fapiParameters>> }> {
  const flow = await fapiParameters('fapi-secret')
  const response = await oauth.pushedAuthorizationRequest(as, FAPI_SECRET_CLIENT, AUTH['fapi-secret']!(), flow.parameters, insecure)
  return { requestUri: (await oauth.processPushedAuthorizationResponse(as, FAPI_SECRET_CLIENT, response)).request_uri, flow }
}

t.test('readiness reports the shared replay store', async (t) => {
  for (const url of [stack.gatewayUrl, second.url]) {
    const report = await readiness(url)
    t.equal(report.status, 200)
    t.equal(report.checks['replay_store'], 'ok')
  }
})

t.test('a request_uri used at one gateway is refused at the other', async (t) => {
  const { requestUri, flow } = await pushPlain()
  const front = authorizationUrl(as, { client_id: 'fapi-secret', request_uri: requestUri })
  const first = await new BrowserAgent().run(front)
  t.ok((await judge(as, FAPI_SECRET_CLIENT, callbackParameters(first), flow.state)).get('code'), 'used once, at the first gateway')
  const again = errorPageOf(await new BrowserAgent().run(at(second, front)))
  t.equal(again.status, 400)
  t.match(again.text, /invalid_request_uri/)
})

t.test("a request object's jti used at one gateway is refused at the other", async (t) => {
  const flow = await fapiParameters('fapi-es')
  const request = await oauth.issueRequestObject(as, FAPI_ES, flow.parameters, ES_KEY.key)
  const url = authorizationUrl(as, byValue('fapi-es', request))
  t.ok(await judge(as, FAPI_ES, callbackParameters(await new BrowserAgent().run(at(second, url), { via: new URL(stack.gatewayUrl) })), flow.state), 'first use, at the second gateway')
  const refusal = await jarmError(as, FAPI_ES, await new BrowserAgent().run(url))
  t.equal(refusal.error, 'invalid_request_object')
  t.match(refusal.description, /jti/)
})

t.test("a client assertion's jti used at one gateway's PAR is refused at the other's", async (t) => {
  const assertion = await new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: PAR_KEY.kid })
    .setIssuer('fapi-par').setSubject('fapi-par').setAudience(as.issuer).setIssuedAt().setExpirationTime('60s')
    .sign(PAR_KEY.key.key)
  const flow = await fapiParameters('fapi-par')
  const body = new URLSearchParams({
    client_id: 'fapi-par',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    request: await oauth.issueRequestObject(as, FAPI_PAR, flow.parameters, PAR_KEY.key),
  })
  const post = (origin: string): Promise<Response> => fetch(`${origin}${PAR_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal((await post(stack.gatewayUrl)).status, 201)
  const replayed = await post(second.url)
  t.equal(replayed.status, 401)
  t.equal((await replayed.json() as Record<string, string>)['error'], 'invalid_client')
})

t.test('Redis stopped: PAR fails closed, plain JARM works, readiness says so; Redis back: PAR works', async (t) => {
  const pending = await pushPlain()
  await redis.stop()
  t.teardown(() => redis.start())

  const front = authorizationUrl(as, { client_id: 'fapi-secret', request_uri: pending.requestUri })
  const refused = errorPageOf(await new BrowserAgent().run(front))
  t.equal(refused.status, 503, 'fails closed: a request_uri whose one-time use cannot be recorded is not used')
  t.match(refused.text, /replay_store_unavailable/)

  const flow = await fapiParameters('app1', { redirect_uri: 'https://client.example.org/cb' })
  const plain = await new BrowserAgent().run(authorizationUrl(as, flow.parameters))
  t.ok((await judge(as, { client_id: 'app1', authorization_signed_response_alg: 'ES256' }, callbackParameters(plain), flow.state)).get('code'), 'plain JARM never needs the store')

  const assertionFlow = await fapiParameters('fapi-par')
  const push = await oauth.pushedAuthorizationRequest(as, FAPI_PAR, AUTH['fapi-par']!(), { request: await oauth.issueRequestObject(as, FAPI_PAR, assertionFlow.parameters, PAR_KEY.key) }, insecure)
  t.equal(push.status, 503, 'private_key_jwt at PAR needs its jti recorded')
  t.equal((await push.json() as Record<string, string>)['error'], 'temporarily_unavailable')

  const report = await readiness(stack.gatewayUrl)
  t.not(report.checks['replay_store'], 'ok')
  t.match(report.checks['replay_store'], /^(unreachable|connecting)$/, 'a short reason, no address')

  await redis.start()
  let back = await readiness(stack.gatewayUrl)
  for (let tries = 0; back.checks['replay_store'] !== 'ok' && tries < 60; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    back = await readiness(stack.gatewayUrl)
  }
  t.equal(back.checks['replay_store'], 'ok', 'reconnected')
  const later = await new BrowserAgent().run(front)
  t.ok((await judge(as, FAPI_SECRET_CLIENT, callbackParameters(later), pending.flow.state)).get('code'), 'the request_uri refused during the outage was never marked used')
})

t.test('control: without replay_store each gateway only knows its own uses', async (t) => {
  const alone = await startFapiStack({ config: { pushed_authorization_requests: { serve: 'gateway' } } })
  const other = await anotherGateway(alone, { pushed_authorization_requests: { serve: 'gateway' } })
  t.teardown(async () => { await stop(other); await alone.close() })
  const local = await discover(alone.issuer)
  const flow = await fapiParameters('fapi-secret')
  const response = await oauth.pushedAuthorizationRequest(local, FAPI_SECRET_CLIENT, oauth.ClientSecretBasic(FAPI_SECRET), flow.parameters, insecure)
  const { request_uri: requestUri } = await oauth.processPushedAuthorizationResponse(local, FAPI_SECRET_CLIENT, response)
  const front = authorizationUrl(local, { client_id: 'fapi-secret', request_uri: requestUri })
  t.equal((await new BrowserAgent().run(front)).kind, 'redirect', 'first use')
  t.match(errorPageOf(await new BrowserAgent().run(front)).text, /invalid_request_uri/, 'the same gateway refuses it again')
  t.equal((await new BrowserAgent().run(at(other, front), { via: new URL(alone.gatewayUrl) })).kind, 'redirect', 'another process, with its own memory, does not know it was used')
})
