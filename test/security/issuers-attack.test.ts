// Attack review of `issuers` (many issuers behind one gateway): a hostile client and a hostile,
// reflective legacy server against real oidc-provider realms (test/helpers/multi-realm-server.ts).
// Every test asserts the SAFE behaviour the README and SECURITY.md promise: a failing test is a finding.
import t from 'tap'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { gzipSync } from 'node:zlib'
import { Writable } from 'node:stream'
import { decodeJwt } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve } from '../../src/server.js'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { authorizationRequest, discover } from '../helpers/judge.js'
import { startMultiRealmServer, REALM_REDIRECT_URI } from '../helpers/multi-realm-server.js'
import { STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'
import { abandonFormBody } from '../helpers/raw-http.js'

const server = await listen('127.0.0.1', 0)
const port = (server.address() as { port: number }).port
const gatewayUrl = `http://127.0.0.1:${port}`
// `A` is another realm of the (case-sensitive) legacy server than `a`.
const legacy = await startMultiRealmServer(gatewayUrl, ['a', 'b', 'c', 'A'])
const realm = (name: string): string => `${gatewayUrl}/realms/${name}`
const ownA = { keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('RS256')] }
const ownKids = new Set(ownA.keys.map((key) => key.kid))
const sharedKids = new Set(TEST_KEYS.keys.map((key) => key.kid))
const logs: Array<Record<string, unknown>> = []
const logger = createLogger({ level: 'debug', destination: new Writable({ write (chunk: Buffer, _encoding, callback) { logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); callback() } }) })
const settings = {
  upstream: { url: legacy.url },
  keys: TEST_KEYS,
  state: { secrets: [STATE_SECRET] },
  default_signed_response_alg: 'RS256',
  clients: { app1: { authorization_signed_response_alg: 'RS256' } },
  issuers: [
    { issuer: realm('a'), keys: ownA, clients: { app1: { authorization_signed_response_alg: 'ES256' } } },
    { issuer: realm('b') },
    { issuer: `${gatewayUrl}/realms/{tenant}` },
  ],
  limits: { tenants: 3 },
}
const running = serve(server, await buildConfig(settings, process.cwd()), logger)
await running.gateway.start()
t.teardown(async () => {
  server.closeAllConnections()
  await running.close()
  await legacy.close()
})
const sealer = new FlowStateSealer([STATE_SECRET], 1800)

interface Reply { status: number, headers: IncomingHttpHeaders, body: string }
/** A request with its target exactly as written (fetch would normalise dot segments, backslashes, ...). */
function raw (target: string, init: { method?: string, headers?: Record<string, string>, body?: Buffer | string, chunked?: boolean, base?: string } = {}): Promise<Reply> {
  const base = new URL(init.base ?? gatewayUrl)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, path: target, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    if (init.body !== undefined && init.chunked === true) {
      const body = Buffer.from(init.body)
      req.write(body.subarray(0, 5))
      req.write(body.subarray(5))
      req.end()
    } else req.end(init.body)
  })
}

const CLIENT_STATE = 'attacker-client-state-42'
function jwtQuery (extra: Record<string, string> = {}): string {
  return new URLSearchParams({ client_id: 'app1', response_type: 'code', scope: 'openid', redirect_uri: REALM_REDIRECT_URI, response_mode: 'query.jwt', state: CLIENT_STATE, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', ...extra }).toString()
}

/** Whether a request the legacy server received carries the client's own JWT mode or state (unrewritten). */
function unrewritten (received: string): boolean {
  const query = new URL(received, 'http://x').searchParams
  return query.getAll('response_mode').some((mode) => mode.endsWith('jwt')) || query.getAll('state').includes(CLIENT_STATE)
}

/** Starts a JWT-mode flow at realm a in this browser; returns the sealed state the legacy server got. */
async function startFlowAtA (browser: BrowserAgent): Promise<string> {
  const as = await discover(realm('a'))
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const started = await browser.request(request.url)
  await started.arrayBuffer()
  t.ok(started.headers.getSetCookie().some((cookie) => cookie.startsWith('jarm-gw-')), 'the flow is bound to this browser')
  const sent = [...legacy.received].reverse().find((path) => path.startsWith("/realms/a/auth"))!
  const sealed = new URL(sent, 'http://x').searchParams.get('state')!
  t.equal(sealer.open(sealed).issuer, realm('a'))
  return sealed
}

function script (path: string, answer: (res: import('node:http').ServerResponse) => void): void {
  legacy.script = (req, res) => {
    if (req.url !== path) return false
    answer(res)
    return true
  }
}

/** The browser's cookies as a Cookie header, kept beside the agent's own jar. */
const cookieJars = new WeakMap<BrowserAgent, string[]>()
const originalRequest = BrowserAgent.prototype.request
BrowserAgent.prototype.request = async function (this: BrowserAgent, url, init = {}) {
  const response = await originalRequest.call(this, url, init)
  const jar = cookieJars.get(this) ?? []
  for (const cookie of response.headers.getSetCookie()) {
    const pair = cookie.split(';')[0]!
    const name = pair.slice(0, pair.indexOf('='))
    const kept = jar.filter((entry) => !entry.startsWith(`${name}=`))
    if (!/expires=Thu, 01 Jan 1970/i.test(cookie) && pair.slice(pair.indexOf('=') + 1) !== '') kept.push(pair)
    jar.splice(0, jar.length, ...kept)
  }
  cookieJars.set(this, jar)
  return response
}
async function cookieOf (browser: BrowserAgent): Promise<string> {
  return (cookieJars.get(browser) ?? []).join('; ')
}

t.afterEach(() => { legacy.script = undefined })

t.test("realm a's sealed flow answered on realm b's or a tenant's path fails closed (flow_state_wrong_issuer)", async (t) => {
  const browser = new BrowserAgent()
  const sealed = await startFlowAtA(browser)
  for (const path of ['/realms/b/scripted', '/realms/c/scripted', '/realms/b/login-actions/x']) {
    script(path, (res) => res.writeHead(302, { location: `${REALM_REDIRECT_URI}?code=CODE-OF-ANOTHER-REALM&state=${sealed}` }).end())
    const answer = await browser.request(new URL(path, gatewayUrl))
    const text = await answer.text()
    t.equal(answer.status, 400, path)
    t.match(text, 'flow_state_wrong_issuer', path)
    t.notOk(answer.headers.get('location'), `${path}: no redirect`)
  }
  // A form_post page carrying it on realm b.
  script('/realms/b/form', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<form method="post" action="${REALM_REDIRECT_URI}"><input type="hidden" name="code" value="C"><input type="hidden" name="state" value="${sealed}"></form>`))
  const form = await browser.request(new URL('/realms/b/form', gatewayUrl))
  t.match(await form.text(), 'flow_state_wrong_issuer')
})

t.test('a sealed flow whose answer comes back on a path no issuer owns fails closed, never as a plain credential', async (t) => {
  // README: a shared login page outside the realm is the flow_state_wrong_issuer case; SECURITY.md
  // §3 and "a credential sent elsewhere": a plain credential of a flow that asked for a signed
  // response never travels.
  const browser = new BrowserAgent()
  const sealed = await startFlowAtA(browser)
  for (const path of ['/shared/login', '/realms/not%20a%20tenant/login', `/realms/${'x'.repeat(129)}/login`]) {
    script(path, (res) => res.writeHead(302, { location: `${REALM_REDIRECT_URI}?code=PLAIN-CODE&state=${sealed}` }).end())
    const answer = await raw(path, { headers: { cookie: (await cookieOf(browser)) } })
    t.ok(answer.status >= 400, `${path}: fails closed (got ${answer.status} ${String(answer.headers.location)})`)
    t.notOk(String(answer.headers.location ?? '').includes('PLAIN-CODE'), `${path}: the code does not travel in plain`)
  }
  script('/shared/form', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<form method="post" action="${REALM_REDIRECT_URI}"><input type="hidden" name="code" value="PLAIN-CODE"><input type="hidden" name="state" value="${sealed}"></form>`))
  const form = await raw('/shared/form', { headers: { cookie: (await cookieOf(browser)) } })
  t.ok(form.status >= 400, `form_post page on a path of no issuer fails closed (got ${form.status})`)
  t.notOk(form.body.includes('PLAIN-CODE'), 'the code does not travel in plain')
})

t.test('realm A (another realm of a case-sensitive server) is never answered as listed realm a', async (t) => {
  // SECURITY.md §4: realm B's redirect can never turn a flow into a response signed as another issuer.
  const before = legacy.received.length
  const started = await raw(`/realms/A/auth?${jwtQuery()}`)
  const sent = legacy.received.slice(before).find((path) => path.startsWith('/realms/A/auth'))
  if (sent !== undefined && started.status < 400) {
    const sealedIssuer = sealer.open(new URL(sent, 'http://x').searchParams.get('state')!).issuer
    t.equal(sealedIssuer, realm('A'), `a flow served by realm A is not sealed as realm a's (sealed as ${String(sealedIssuer)})`)
  } else t.pass('refused')
  // Whole flow: whatever comes back must not claim iss = realm a for realm A's code.
  const as = { ...(await discover(realm('a'))), authorization_endpoint: `${realm('A')}/auth` }
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const arrival = await new BrowserAgent().run(request.url)
  if (arrival.kind === 'redirect' && arrival.url.searchParams.has('response')) {
    const claims = decodeJwt(arrival.url.searchParams.get('response')!)
    // Evidence: the code in it is realm A's (redeemed at realm A's token endpoint with realm A's secret).
    const token = await fetch(`${realm('A')}/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`app1:${legacy.realms.get('A')!.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code: String(claims['code']), redirect_uri: REALM_REDIRECT_URI, code_verifier: request.verifier }).toString() })
    t.comment(`signed response iss=${String(claims.iss)}; its code redeemed at realm A: ${token.status}`)
    t.not(claims.iss, realm('a'), "realm A's code is not signed as realm a's")
  } else t.pass(`not answered (${arrival.kind} ${arrival.status})`)
  // Realm a's own keys are published at its JWKS only, never in realm A's.
  const jwksA = await raw('/realms/A/jwks')
  if (jwksA.status === 200) {
    const kids = (JSON.parse(jwksA.body) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)
    t.notOk(kids.some((kid) => ownKids.has(kid)), "realm a's own keys are not published in realm A's JWKS")
  }
  const discoveryA = await raw('/realms/A/.well-known/openid-configuration')
  if (discoveryA.status === 200) {
    const document = JSON.parse(discoveryA.body) as Record<string, unknown>
    t.equal(document['issuer'], realm('A'), `realm A discovery is its own (served: issuer ${String(document['issuer'])}, signing algs ${JSON.stringify(document['authorization_signing_alg_values_supported'])})`)
    t.notOk('authorization_signing_alg_values_supported' in document && document['issuer'] !== realm('a') && (document['authorization_signing_alg_values_supported'] as string[]).includes('ES256') && !(document['authorization_signing_alg_values_supported'] as string[]).includes('RS256'), "realm a's JARM settings are not advertised for realm A")
  }
})

t.test('two listed realms whose names differ only in case are refused at load: they could not be told apart', async (t) => {
  const refused = await buildConfig({ ...settings, issuers: [{ issuer: realm('a') }, { issuer: realm('A') }] }, process.cwd()).catch((error: Error) => error)
  t.match(refused, { problems: [/issuers\[1\]\.issuer: has the path of issuers\[0\]\.issuer/] })
})

t.test('path spellings: a JWT-mode request on a realm never reaches the legacy server unrewritten', async (t) => {
  const targets = [
    '/realms/a/auth', '/REALMS/a/auth', '/realms/a/AUTH', '/realms/a//auth', '/realms//a/auth', '/realms/a;x=1/auth', '/realms/%61/auth',
    '/realms/a/./auth', '/realms/b/../a/auth', '/realms/a/auth/', '/realms/a/auth;jsessionid=1', '/realms/a/auth.json', '/realms/a\\auth',
    '/realms/a/%61uth', '/realms/a/%2e/auth', '/realms/%63/auth', '/realms/c;v=1/auth', '/realms/c/%61uth', '/realms/b/./auth/',
    '/realms/c/x/../auth', '/realms/a/auth%2F', '/realms/a%2Fauth', '/realms/a/auth%3B', '/realms/a/%2Fauth',
    '/.well-known/openid-configuration/../../realms/a/auth',
    `http://127.0.0.1:${port}/REALMS/b/auth`,
  ]
  for (const target of targets) {
    const before = legacy.received.length
    const reply = await raw(`${target}?${jwtQuery()}`)
    const leaked = legacy.received.slice(before).filter(unrewritten)
    t.same(leaked, [], `${target}: ${reply.status} ${reply.status >= 400 ? /code[^a-z]*([a-z_]+)/.exec(reply.body)?.[1] ?? '' : ''}`)
  }
  // POST form and HEAD too.
  for (const target of ['/REALMS/b/auth', '/realms/b;x/auth/', '/realms/%63/auth']) {
    const before = legacy.received.length
    await raw(target, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: jwtQuery() })
    await raw(`${target}?${jwtQuery()}`, { method: 'HEAD' })
    t.same(legacy.received.slice(before).filter(unrewritten), [], `${target}: POST and HEAD`)
  }
})

t.test('no issuer owns the path: a JWT mode in any form body shape is refused (no_issuer_for_path)', async (t) => {
  const body = jwtQuery()
  const requestObject = ['{"alg":"none"}', '{"response_mode":"jwt","client_id":"app1"}'].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.'
  const cases: Array<[string, Parameters<typeof raw>[1]]> = [
    ['chunked form body', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' }, body, chunked: true }],
    ['form type in upper case with a charset', { method: 'POST', headers: { 'content-type': 'APPLICATION/X-WWW-FORM-URLENCODED ; charset=UTF-8' }, body }],
    ['PUT with a form body', { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }],
    ['GET with a form body', { method: 'GET', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) }, body }],
    ['request object in a form body', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=app1&request=${requestObject}` }],
    ['gzip content-encoded form body', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body: gzipSync(body) }],
  ]
  for (const path of ['/elsewhere/auth', '/realms/not%20a%20tenant/auth']) {
    for (const [what, init] of cases) {
      const before = legacy.received.length
      const reply = await raw(path, init)
      t.equal(legacy.received.length, before, `${path} ${what}: never reaches the legacy server (${reply.status})`)
      t.ok(reply.status >= 400, `${path} ${what}: refused`)
    }
    const before = legacy.received.length
    const query = await raw(`${path}?${jwtQuery()}`)
    t.equal(query.status, 400)
    t.match(query.body, 'no_issuer_for_path')
    t.equal(legacy.received.length, before)
  }
})

t.test('no issuer owns the path: a form body the client abandons reaches nothing', async (t) => {
  const before = legacy.received.length
  await abandonFormBody(gatewayUrl, '/elsewhere/form')
  t.equal(legacy.received.length, before, 'the legacy server never got the half body')
  t.ok(logs.some((line) => line['code'] === 'request_aborted'), 'the gateway noted it')
  t.equal((await fetch(`${gatewayUrl}/healthz`)).status, 200, 'and keeps serving')
  const large = await raw('/elsewhere/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `x=${'a'.repeat(70_000)}&response_mode=query.jwt` })
  t.equal(large.status, 413, 'a form body too large to read for its response_mode is refused, not passed unread')
  t.equal(legacy.received.length, before)
})

t.test("one realm's discovery and JWKS are never served for another; own keys stay at their issuer", async (t) => {
  for (const [target, expected] of [
    ['/.well-known/openid-configuration/realms/b', realm('b')],
    ['/.well-known/openid-configuration/realms/a', realm('a')],
    ['/.well-known/openid-configuration/realms/c', realm('c')],
    ['/.well-known/OPENID-CONFIGURATION/realms/b', realm('b')],
    ['/realms/b/.well-known/openid-configuration', realm('b')],
    ['/realms/%62/.well-known/openid-configuration', realm('b')],
    ['/realms/c/.well-known/openid-configuration', realm('c')],
  ] as const) {
    const reply = await raw(target)
    if (reply.status === 200) t.equal((JSON.parse(reply.body) as { issuer: string }).issuer, expected, target)
    else t.pass(`${target}: ${reply.status}`)
  }
  const kidsAt = async (path: string): Promise<string[]> => ((await (await fetch(`${gatewayUrl}${path}`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)
  const a = await kidsAt('/realms/a/jwks')
  t.ok(a.some((kid) => ownKids.has(kid)), "realm a publishes its own keys")
  t.notOk(a.some((kid) => sharedKids.has(kid)), 'and not the shared ones')
  for (const other of ['/realms/b/jwks', '/realms/c/jwks']) {
    const kids = await kidsAt(other)
    t.ok(kids.some((kid) => sharedKids.has(kid)), `${other}: the shared keys`)
    t.notOk(kids.some((kid) => ownKids.has(kid)), `${other}: never realm a's own keys`)
  }
})

t.test('a tenant whose discovery publishes another issuer is refused, not published under it', async (t) => {
  const documentOfA = await (await fetch(`${legacy.url}/realms/a/.well-known/openid-configuration`)).text()
  const reflect = (issuer: string): string => documentOfA.replaceAll(realm('a'), issuer)
  legacy.script = (req, res) => {
    const found = /^\/realms\/(evil|Mixed)\/\.well-known\/openid-configuration/.exec(req.url!)
    if (found === null) return false
    // evil publishes realm a's document; Mixed publishes its name in lower case.
    res.writeHead(200, { 'content-type': 'application/json' }).end(found[1] === 'evil' ? documentOfA : reflect(realm('mixed')))
    return true
  }
  for (const tenant of ['evil', 'Mixed']) {
    const discovery = await raw(`/realms/${tenant}/.well-known/openid-configuration`)
    t.not(discovery.status, 200, `${tenant}: its discovery is not served`)
    const jwt = await raw(`/realms/${tenant}/auth?${jwtQuery()}`)
    t.equal(jwt.status, 503, `${tenant}: JWT-mode requests get metadata_unavailable`)
    t.match(jwt.body, 'metadata_unavailable')
  }
})

t.test('tenant table: bounded by limits.tenants, and metrics labels stay bounded', async (t) => {
  await raw('/realms/c/.well-known/openid-configuration')
  const discoveriesOfC = (): number => legacy.received.filter((path) => path.startsWith('/realms/c/.well-known')).length
  const before = discoveriesOfC()
  await raw('/realms/c/.well-known/openid-configuration')
  t.equal(discoveriesOfC(), before + 1, 'discovery requests pass to the legacy server')
  const settled = discoveriesOfC()
  await raw(`/realms/c/auth?${jwtQuery()}`)
  const cached = discoveriesOfC()
  t.ok(cached - settled <= 1, 'c is cached')
  for (let index = 0; index < 40; index++) await raw(`/realms/flood${index}/x`)
  await raw(`/realms/c/auth?${jwtQuery()}`)
  t.ok(discoveriesOfC() > cached, 'c was evicted by the flood and discovered again: the table is bounded')
  const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text()
  const labels = new Set([...metrics.matchAll(/issuer="([^"]*)"/g)].map((match) => match[1]))
  for (const label of labels) t.ok([realm('a'), realm('b'), `${gatewayUrl}/realms/{tenant}`].includes(label!), `bounded label value ${label}`)
  const lines = logs.filter((line) => typeof line['path'] === 'string' && (line['path'] as string).includes('?'))
  t.same(lines, [], 'no log line carries a query string')
})

t.test('issuers told apart by host only are not answered as one another', async (t) => {
  // A multi-tenant server of host-named issuers, every host a public origin (SECURITY.md: "One Host view").
  const other = await listen('127.0.0.1', 0)
  const base = `http://127.0.0.1:${(other.address() as { port: number }).port}`
  const hosted = await import('node:http').then(({ createServer }) => createServer((req, res) => {
    const host = req.headers.host!
    if (req.url!.startsWith('/.well-known/openid-configuration')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: `http://${host}`, authorization_endpoint: `http://${host}/authorize`, jwks_uri: `http://${host}/jwks`, response_modes_supported: ['query'] }))
      return
    }
    seenByHost.push([host, req.url!])
    res.writeHead(200, { 'content-type': 'text/plain' }).end('login')
  }))
  const seenByHost: Array<[string, string]> = []
  await new Promise<void>((resolve) => hosted.listen(0, '127.0.0.1', resolve))
  const config = await buildConfig({
    upstream: { url: `http://127.0.0.1:${(hosted.address() as { port: number }).port}` },
    keys: TEST_KEYS,
    state: { secrets: [STATE_SECRET] },
    public_origins: ['http://two.example'],
    issuers: [{ issuer: 'http://one.example' }, { issuer: 'http://two.example' }],
  }, process.cwd()).catch((error: Error) => error)
  if (config instanceof Error) {
    t.match(config, { problems: [/issuers\[1\]\.issuer: has the path of issuers\[0\]\.issuer.*told apart only by host/] }, 'refused at load')
    await new Promise<void>((resolve) => hosted.close(() => resolve()))
    other.close()
    return
  }
  const gw = serve(other, config, logger)
  t.teardown(async () => { other.closeAllConnections(); await gw.close(); hosted.closeAllConnections(); await new Promise<void>((resolve) => hosted.close(() => resolve())) })
  await gw.gateway.start().catch(() => undefined)
  await raw(`/authorize?${jwtQuery()}`, { base, headers: { host: 'two.example' } })
  const sent = seenByHost.find(([, url]) => url.startsWith('/authorize'))
  t.ok(sent, 'the legacy server got the request')
  if (sent !== undefined) {
    const sealedIssuer = sealer.open(new URL(sent[1], 'http://x').searchParams.get('state')!).issuer
    t.same({ host: sent[0], sealedIssuer }, { host: 'two.example', sealedIssuer: 'http://two.example' }, "two.example's flow is sealed as two.example's, not one.example's")
  }
})
