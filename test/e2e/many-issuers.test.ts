// Many issuers behind one gateway, with real parts: one process hosting three oidc-provider realms
// (JARM off) under /realms/a, /realms/b, /realms/c, each with its own keys and its own secret for
// the same client_id; the gateway lists a and b (different algorithms for that client_id) and a
// /realms/{tenant} template. Each realm's responses are judged by oauth4webapi against that realm's
// discovery (through the gateway) and redeemed at that realm's token endpoint.
import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { createLogger } from '../../src/observability/logger.js'
import { Gateway } from '../../src/gateway.js'
import { listen, serve } from '../../src/server.js'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { authorizationRequest, discover, judge, redeem, type oauth } from '../helpers/judge.js'
import { startMultiRealmServer, REALM_REDIRECT_URI } from '../helpers/multi-realm-server.js'
import { STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'

const server = await listen('127.0.0.1', 0)
const gatewayUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`
const legacy = await startMultiRealmServer(gatewayUrl, ['a', 'b', 'c', 'd'])
const realm = (name: string): string => `${gatewayUrl}/realms/${name}`
const ps256 = await generatePrivateJwk('PS256')
const ed = await generatePrivateJwk('EdDSA')
const logs: Array<Record<string, unknown>> = []
const logger = createLogger({ level: 'debug', destination: new Writable({ write (chunk: Buffer, _encoding, callback) { logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); callback() } }) })

const settings = {
  upstream: { url: legacy.url },
  keys: { keys: [...TEST_KEYS.keys, ps256] },
  state: { secrets: [STATE_SECRET] },
  default_signed_response_alg: 'RS256',
  clients: { app1: { authorization_signed_response_alg: 'RS256' } },
  issuers: [
    { issuer: realm('a'), clients: { app1: { authorization_signed_response_alg: 'PS256' } } },
    { issuer: realm('b'), discovery_path: '/realms/b/.well-known/openid-configuration', clients: { app1: { authorization_signed_response_alg: 'ES256' } } },
    { issuer: `${gatewayUrl}/realms/{tenant}` },
  ],
}
const running = serve(server, await buildConfig(settings, process.cwd()), logger)
await running.gateway.start()
t.teardown(async () => {
  server.closeAllConnections()
  await running.close()
  await legacy.close()
})

/** A whole code flow at one realm, judged against that realm's discovery and redeemed at its token endpoint. */
async function flowAt (t: Test, name: string, alg: string, gatewayKid: string = ps256.kid!): Promise<void> {
  const as = await discover(realm(name))
  t.equal(as.issuer, realm(name), `${name}: discovery is the realm's own`)
  t.match(as.authorization_endpoint, `${realm(name)}/`, `${name}: its own authorization endpoint`)
  t.ok(as.authorization_signing_alg_values_supported?.includes(alg))
  const client: oauth.Client = { client_id: 'app1', authorization_signed_response_alg: alg }
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const arrival = await new BrowserAgent().run(request.url)
  const parameters = callbackParameters(arrival)
  const jwt = parameters.get('response')!
  t.equal(decodeProtectedHeader(jwt).alg, alg, `${name}: app1 signed with this realm's algorithm`)
  t.equal(decodeJwt(jwt).iss, realm(name), `${name}: iss is the realm whose endpoint started the flow`)
  const callback = await judge(as, client, parameters, request.state!)
  const tokens = await redeem(as, client, legacy.realms.get(name)!.secret, callback, REALM_REDIRECT_URI, request.verifier, request.nonce)
  t.ok(tokens.access_token, `${name}: the code is redeemed with this realm's secret at its token endpoint`)
  const jwks = await (await fetch(as.jwks_uri!)).json() as { keys: Array<{ kid: string }> }
  t.ok(jwks.keys.some((key) => key.kid === gatewayKid), `${name}: the gateway's keys are merged into the realm's JWKS`)
  const gatewayKids = new Set([...TEST_KEYS.keys, ps256, ed].map((key) => key.kid))
  realmKids.set(name, jwks.keys.map((key) => key.kid).filter((kid) => !gatewayKids.has(kid)))
}

/** The legacy realm's own key ids, as each realm's JWKS (through the gateway) last showed them. */
const realmKids = new Map<string, string[]>()

t.test('each listed realm: its discovery, algorithm, iss and token endpoint', async (t) => {
  await flowAt(t, 'a', 'PS256')
  await flowAt(t, 'b', 'ES256')
  t.equal(realmKids.get('a')!.length, 1)
  t.notSame(realmKids.get('a'), realmKids.get('b'), 'each realm publishes its own keys')
})

t.test('a realm of the template is discovered on first use and signs with the top-level client', async (t) => {
  const before = legacy.received.filter((path) => path.startsWith('/realms/c/.well-known')).length
  t.equal(before, 0, 'not discovered at start')
  await flowAt(t, 'c', 'RS256')
  t.ok(legacy.received.filter((path) => path.startsWith('/realms/c/.well-known')).length >= 1)
  const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text()
  t.match(metrics, `jarm_gateway_jarm_responses_total{mode="query.jwt",alg="RS256",outcome="success",issuer="${gatewayUrl}/realms/{tenant}"} 1`, 'a template counts as one label value')
  t.match(metrics, `jarm_gateway_jarm_responses_total{mode="query.jwt",alg="PS256",outcome="success",issuer="${realm('a')}"} 1`)
  const lines = logs.filter((line) => line['event'] === 'jarm.response' && line['issuer'] === realm('c'))
  t.equal(lines.length, 1, 'the log line names the tenant')
  t.ok(logs.some((line) => line['event'] === 'jarm.request' && line['issuer'] === realm('c')))
})

t.test("realm B's redirect carrying realm A's sealed state fails closed", async (t) => {
  const sealer = new FlowStateSealer([STATE_SECRET], 600)
  const flow = { mode: 'query.jwt', clientId: 'app1', redirectUri: REALM_REDIRECT_URI, responseType: 'code', state: 's' } as const
  const asB = await discover(realm('b'))
  const asA = await discover(realm('a'))
  const ofA = sealer.seal({ ...flow, issuer: realm('a') })
  const atB = await new BrowserAgent().run((await authorizationRequest(asB, { response_mode: 'query', state: ofA })).url)
  t.equal(atB.status, 400)
  t.match(atB.kind === 'page' ? atB.text : '', 'flow_state_wrong_issuer', 'refused as another issuer\'s flow')
  // The same state at its own realm gets as far as the browser binding (this browser did not start it).
  const atA = await new BrowserAgent().run((await authorizationRequest(asA, { response_mode: 'query', state: ofA })).url)
  t.match(atA.kind === 'page' ? atA.text : '', 'flow_not_bound')
  // A flow sealed before issuers existed is the default (first listed) issuer's.
  const old = sealer.seal(flow)
  const oldAtB = await new BrowserAgent().run((await authorizationRequest(asB, { response_mode: 'query', state: old })).url)
  t.match(oldAtB.kind === 'page' ? oldAtB.text : '', 'flow_state_wrong_issuer')
  const oldAtA = await new BrowserAgent().run((await authorizationRequest(asA, { response_mode: 'query', state: old })).url)
  t.match(oldAtA.kind === 'page' ? oldAtA.text : '', 'flow_not_bound')
})

t.test("a legacy error without state at realm B is not wrapped for realm A's flow bound to the browser", async (t) => {
  const asA = await discover(realm('a'))
  const browser = new BrowserAgent()
  // Start a flow at realm a: the gateway binds it to this browser with a cookie.
  const started = await browser.request((await authorizationRequest(asA, { response_mode: 'query.jwt' })).url)
  t.equal(started.status, 303)
  t.ok(started.headers.getSetCookie().some((cookie) => cookie.startsWith('jarm-gw-')), 'bound')
  legacy.script = (req, res) => {
    if (!req.url!.startsWith('/realms/b/scripted')) return false
    res.writeHead(302, { location: req.url!.endsWith('broken') ? 'http://[broken/cb?error=login_required' : `${REALM_REDIRECT_URI}?error=login_required` }).end()
    return true
  }
  t.teardown(() => { legacy.script = undefined })
  const atB = await browser.request(new URL(`${realm('b')}/scripted`))
  t.equal(atB.status, 302, "passed on as it is: realm a's flow is not realm b's to answer")
  t.equal(atB.headers.get('location'), `${REALM_REDIRECT_URI}?error=login_required`)
  const broken = await browser.request(new URL(`${realm('b')}/scripted-broken`))
  t.equal(broken.status, 302, 'a Location that does not parse is no response')
  for (const location of [`${REALM_REDIRECT_URI}#error=login_required`, `${REALM_REDIRECT_URI}#error=x&state=y`, `${REALM_REDIRECT_URI}?error=x&state=y`, `${REALM_REDIRECT_URI}?note=error=1`]) {
    legacy.script = (req, res) => {
      if (!req.url!.startsWith('/realms/b/scripted')) return false
      res.writeHead(302, { location }).end()
      return true
    }
    const passed = await browser.request(new URL(`${realm('b')}/scripted`))
    t.equal(passed.headers.get('location'), location, `passed on as it is: ${location}`)
  }
  const atA = await browser.request(new URL(`${realm('a')}/scripted`))
  t.equal(atA.status, 404, 'no script there: the realm answers')
})

t.test('a path that matches no issuer passes through untouched; a tenant whose discovery fails is refused alone', async (t) => {
  const response = await fetch(`${gatewayUrl}/elsewhere/auth?response_mode=query&state=mine`)
  t.equal(response.status, 404)
  t.equal(await response.text(), 'no realm here')
  t.equal(legacy.received.at(-1), '/elsewhere/auth?response_mode=query&state=mine', 'the legacy server got the request as sent')
  const form = await fetch(`${gatewayUrl}/elsewhere/form`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'response_mode=form_post&x=%20y' })
  t.equal(form.status, 404, 'a form body without a JWT mode passes too')
  t.equal(legacy.received.at(-1), '/elsewhere/form', 'with its body')
  const seen = legacy.received.length
  // A JWT mode where no issuer answers it would reach the legacy server unrewritten: refused instead.
  for (const [what, init, url] of [
    ['in the query', undefined, `${gatewayUrl}/elsewhere/auth?response_mode=query.jwt&state=mine`],
    ['in a form body', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=app1&response_mode=jwt' }, `${gatewayUrl}/elsewhere/auth`],
    ['inside a request object', undefined, `${gatewayUrl}/elsewhere/auth?request=${['{"alg":"none"}', '{"response_mode":"fragment.jwt"}'].map((part) => Buffer.from(part).toString('base64url')).join('.')}.`],
    ['in an unreadable request object', undefined, `${gatewayUrl}/elsewhere/auth?request=a.b.c.d.e`],
  ] as const) {
    const refused = await fetch(url, init)
    t.equal(refused.status, 400, what)
    t.match(await refused.text(), 'no_issuer_for_path', what)
  }
  t.equal(legacy.received.length, seen, 'none of them reached the legacy server')
  const missing = await fetch(`${gatewayUrl}/realms/nowhere/protocol/auth?client_id=app1&response_mode=query.jwt`)
  t.equal(missing.status, 503)
  t.match(await missing.text(), 'metadata_unavailable')
  const plain = await fetch(`${gatewayUrl}/realms/nowhere/account`)
  t.equal(plain.status, 404, 'its plain requests still pass through')
  await flowAt(t, 'a', 'PS256')
  const ready = await fetch(`${gatewayUrl}/readyz`)
  t.equal(ready.status, 200, 'ready: every listed issuer is discovered, templates do not count')
})

t.test('a reload that adds a realm: listed, it wins over the template', async (t) => {
  await flowAt(t, 'd', 'RS256')
  running.gateway.reload(await buildConfig({
    ...settings,
    issuers: [...settings.issuers.slice(0, 2), { issuer: realm('d'), keys: { keys: [ed, TEST_KEYS.keys[1]!] }, clients: { app1: { authorization_signed_response_alg: 'EdDSA' } } }, settings.issuers[2]],
  }, process.cwd()))
  await flowAt(t, 'd', 'EdDSA', ed.kid)
  const jwks = await (await fetch(`${realm('d')}/jwks`)).json() as { keys: Array<{ kid: string }> }
  t.notOk(jwks.keys.some((key) => key.kid === ps256.kid), 'its own keys only: the shared keys (current or retired) are not published there')
  const retired = await (await fetch(`${realm('a')}/jwks`)).json() as { keys: Array<{ kid: string }> }
  t.ok(retired.keys.some((key) => key.kid === ps256.kid))
  await flowAt(t, 'a', 'PS256')
  await flowAt(t, 'c', 'RS256')
})

t.test('start-up and paths of no issuer while a listed issuer cannot be discovered', async (t) => {
  const startLogs: Array<Record<string, unknown>> = []
  const startLogger = createLogger({ level: 'debug', destination: new Writable({ write (chunk: Buffer, _encoding, callback) { startLogs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); callback() } }) })
  const config = await buildConfig({ ...settings, issuers: [settings.issuers[0], { issuer: realm('gone') }] }, process.cwd())
  const down = new Gateway(config, startLogger)
  t.teardown(() => down.close())
  const first = await down.start()
  t.equal(first.issuer, realm('a'), "start resolves with the first issuer's discovery")
  t.match(startLogs, [{ event: 'metadata.unavailable', issuer: realm('gone') }], 'and logs each other one it could not read')
  await t.rejects(down.metadata(), { code: 'metadata_unavailable' }, 'not ready')
  const gateway = await listen('127.0.0.1', 0)
  const downServer = serve(gateway, config, startLogger)
  t.teardown(() => { gateway.closeAllConnections(); return downServer.close() })
  const base = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`
  const jwtLike = await fetch(`${base}/elsewhere/auth?response_mode=query.jwt`)
  t.equal(jwtLike.status, 503, 'a JWT-mode request on no issuer\'s path may be the unknown issuer\'s: it fails closed')
  t.match(await jwtLike.text(), 'metadata_unavailable')
  const plain = await fetch(`${base}/elsewhere/page`)
  t.equal(plain.status, 404, 'a plain one passes through')
  t.equal((await fetch(`${base}/realms/a/.well-known/openid-configuration`)).status, 200, 'the other issuer is unaffected')
  const templates = new Gateway(await buildConfig({ ...settings, issuers: [settings.issuers[2]] }, process.cwd()), startLogger)
  t.teardown(() => templates.close())
  await t.rejects(templates.start(), /only \{tenant\} templates are configured/)
  t.same(await templates.metadata(), [], 'ready with templates only: they do not count')
})

t.test('a request waiting on a listed issuer\'s discovery goes on once it is known', async (t) => {
  const gateway = await listen('127.0.0.1', 0)
  const fresh = serve(gateway, await buildConfig({ ...settings, issuers: [{ issuer: realm('b') }] }, process.cwd()), logger)
  t.teardown(() => { gateway.closeAllConnections(); return fresh.close() })
  const base = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`
  // Not started: realm b's discovery is unknown, so a JWT-like request elsewhere waits for it, then passes.
  const response = await fetch(`${base}/elsewhere/x?response_mode=query`)
  t.equal(response.status, 404)
  t.equal(await response.text(), 'no realm here')
})
