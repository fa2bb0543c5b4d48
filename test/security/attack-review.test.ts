// Attacks from the review of issue 11, each reproduced against the running gateway in front of a
// scripted legacy server: custom-scheme redirect_uris, claims an attacker chose (a login page that
// carries the original query, a logout redirect), a response sent elsewhere, the client's Host, a
// page too large to read, a flow replayed in another browser, redirect_uris with their own state,
// and a consent form that posts the gateway's own rewrite back to the URL the browser shows.
import t from 'tap'
import type { IncomingMessage } from 'node:http'
import { gatewayKeySet, plainAnswer, runFlow, startFakeStack, verifyResponse, type FakeStack } from '../helpers/fake-stack.js'
import { CookieBrowser } from '../helpers/cookie-browser.js'

const stack = await startFakeStack({ config: { clients: { app1: { authorization_signed_response_alg: 'ES256' }, listed: { authorization_signed_response_alg: 'ES256', redirect_uris: ['https://listed.example/cb'] } } } })
t.teardown(() => stack.close())
const keys = await gatewayKeySet(stack.gatewayUrl)
const signed = (): number => stack.logs.filter((line) => line['event'] === 'jarm.response').length

const Browser = CookieBrowser

function query (parameters: Record<string, string>): string {
  return new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example.org/cb', response_mode: 'query.jwt', state: 'client-state', scope: 'openid', ...parameters }).toString()
}

/** What the fake legacy server received at /auth (the gateway's rewrite), recorded. */
function recordAuthorizationRequests (fake: FakeStack, answer: (parameters: URLSearchParams, req: IncomingMessage) => { status: number, headers: Record<string, string>, body?: string }): URLSearchParams[] {
  const seen: URLSearchParams[] = []
  fake.script = async (req, res, url) => {
    if (url.pathname !== '/auth') return false
    let parameters = url.searchParams
    if (req.method === 'POST') {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      parameters = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
    }
    seen.push(parameters)
    const { status, headers, body } = answer(parameters, req)
    res.writeHead(status, headers)
    res.end(body ?? '')
    return true
  }
  return seen
}

t.afterEach(() => { stack.script = undefined })

t.test('custom-scheme redirect_uris are told apart: a flow sealed for one app never captures another app\'s redirect (item 2)', async (t) => {
  const browser = new Browser()
  // The attacker's own JWT flow for its own app gives it a sealed state.
  const seen = recordAuthorizationRequests(stack, () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'login page' }))
  await (await browser.get(`${stack.gatewayUrl}/auth?${query({ client_id: 'evil', redirect_uri: 'com.evil.app:/cb' })}`)).text()
  const sealed = seen[0]!.get('state')!
  // The victim's plain flow carrying it: the legacy server redirects to the victim's app.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: `com.victim.app:/cb?code=VICTIM-CODE&state=${encodeURIComponent(url.searchParams.get('state')!)}` })
    res.end()
    return true
  }
  const before = signed()
  const response = await browser.get(`${stack.gatewayUrl}/auth?${new URLSearchParams({ client_id: 'victim', response_type: 'code', redirect_uri: 'com.victim.app:/cb', state: sealed })}`)
  const text = await response.text()
  t.equal(signed(), before, 'nothing signed')
  t.notOk((response.headers.get('location') ?? '').startsWith('com.evil.app:'), 'never sent to the attacker\'s app')
  t.equal(response.status, 502, 'the victim\'s code does not travel in plain either: a credential of a sealed flow sent elsewhere fails closed')
  t.match(text, /capture_failed/)
  t.notMatch(text + (response.headers.get('location') ?? ''), /VICTIM-CODE/)
})

t.test('a login page that carries the original query is never signed, whatever the client added (item 3)', async (t) => {
  const browser = new Browser()
  recordAuthorizationRequests(stack, (p) => ({ status: 302, headers: { location: `/login?${p}` } }))
  const before = signed()
  const response = await browser.get(`${stack.gatewayUrl}/auth?${query({ redirect_uri: `${stack.gatewayUrl}/login`, code: 'CHOSEN' })}`)
  const text = await response.text()
  t.equal(signed(), before, 'nothing signed')
  t.equal(response.status, 502)
  t.match(text, /cannot carry parameters client_id/)
})

t.test('a login form holding the original query in hidden inputs is never signed (item 3)', async (t) => {
  const browser = new Browser()
  recordAuthorizationRequests(stack, (p) => ({
    status: 200,
    headers: { 'content-type': 'text/html' },
    body: `<form method="post" action="/login">${[...p].map(([n, v]) => `<input type="hidden" name="${n}" value="${v.replace(/"/g, '&quot;')}">`).join('')}<input name="password" type="password"></form>`,
  }))
  const before = signed()
  const response = await browser.get(`${stack.gatewayUrl}/auth?${query({ redirect_uri: `${stack.gatewayUrl}/login`, code: 'CHOSEN' })}`)
  await response.text()
  t.equal(signed(), before, 'nothing signed')
  t.equal(response.status, 502)
})

t.test('a redirect that is not a response of the sealed response_type fails closed (item 3)', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['code', 'id_token=forged', /cannot carry parameter id_token/],
    ['code', 'error=access_denied&code=also', /an error response cannot also carry code/],
    ['code', '', /needs code or an error/],
    ['code id_token', 'code=c', /needs id_token or an error/],
    ['code', 'code=c&AuthenticatedIdPs=x', /cannot carry parameter AuthenticatedIdPs/],
  ]
  for (const [responseType, parameters, reason] of cases) {
    const browser = new Browser()
    recordAuthorizationRequests(stack, (p) => ({ status: 302, headers: { location: `https://client.example.org/cb?${parameters}${parameters === '' ? '' : '&'}state=${encodeURIComponent(p.get('state')!)}` } }))
    const before = signed()
    const response = await browser.get(`${stack.gatewayUrl}/auth?${query({ response_type: responseType, response_mode: 'fragment.jwt' })}`)
    t.equal(response.status, 502, `${responseType} + ${parameters}`)
    t.match(await response.text(), reason)
    t.equal(signed(), before)
  }
})

t.test('extra_response_parameters lets an operator carry a parameter of its legacy server', async (t) => {
  const extra = await startFakeStack({ config: { extra_response_parameters: ['AuthenticatedIdPs'] } })
  t.teardown(() => extra.close())
  extra.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    plainAnswer(res, url.searchParams, { AuthenticatedIdPs: 'idp1' })
    return true
  }
  const response = await fetch(`${extra.gatewayUrl}/auth?${query({})}`, { redirect: 'manual' })
  const location = new URL(response.headers.get('location')!)
  const { payload } = await verifyResponse(location.searchParams.get('response')!, await gatewayKeySet(extra.gatewayUrl), { issuer: extra.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
  t.equal(payload['AuthenticatedIdPs'], 'idp1')
})

t.test('a sealed state replayed into RP-initiated logout is never signed as an authorization response (item 3)', async (t) => {
  const browser = new Browser()
  const seen = recordAuthorizationRequests(stack, () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'login' }))
  await (await browser.get(`${stack.gatewayUrl}/auth?${query({})}`)).text()
  const sealed = seen[0]!.get('state')!
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/session/end') return false
    res.writeHead(302, { location: `${url.searchParams.get('post_logout_redirect_uri')!}?state=${encodeURIComponent(url.searchParams.get('state')!)}` })
    res.end()
    return true
  }
  const before = signed()
  const response = await browser.get(`${stack.gatewayUrl}/session/end?${new URLSearchParams({ post_logout_redirect_uri: 'https://client.example.org/cb', state: sealed })}`)
  t.equal(signed(), before, 'nothing signed')
  t.equal(response.status, 302, 'the logout redirect passes on as the legacy server wrote it')
  t.notMatch(response.headers.get('location')!, /response=/)
})

t.test('clients.<id>.redirect_uris: only those are sealed (item 3)', async (t) => {
  const response = await fetch(`${stack.gatewayUrl}/auth?${query({ client_id: 'listed', redirect_uri: 'https://attacker.example/cb' })}`, { redirect: 'manual' })
  t.equal(response.status, 400)
  t.match(await response.text(), /redirect_uri_not_allowed/)
  const ok = await runFlow(stack.gatewayUrl, { mode: 'query.jwt', clientId: 'listed', redirectUri: 'https://listed.example/cb' })
  t.equal(ok.target, 'https://listed.example/cb')
})

t.test('a credential of a sealed flow sent anywhere but its redirect_uri fails closed (item 4)', async (t) => {
  for (const target of ['https://elsewhere.example/cb', 'https://client.example.org/other']) {
    const browser = new Browser()
    recordAuthorizationRequests(stack, (p) => ({ status: 302, headers: { location: `${target}?code=PLAIN&state=${encodeURIComponent(p.get('state')!)}` } }))
    const response = await browser.get(`${stack.gatewayUrl}/auth?${query({})}`)
    const text = await response.text()
    t.equal(response.status, 502, target)
    t.notMatch(text, /PLAIN/)
  }
  // Without a credential (an intermediate step elsewhere) the redirect passes on.
  const browser = new Browser()
  recordAuthorizationRequests(stack, (p) => ({ status: 302, headers: { location: `https://federated-idp.example/start?state=${encodeURIComponent(p.get('state')!)}` } }))
  const response = await browser.get(`${stack.gatewayUrl}/auth?${query({})}`)
  t.equal(response.status, 302)
})

t.test('the client\'s Host never chooses the public origin (item 5)', async (t) => {
  const hosts: string[] = []
  stack.script = (req, res, url) => {
    if (url.pathname !== '/.well-known/openid-configuration') return false
    hosts.push(req.headers.host!)
    // A legacy server that builds its metadata from the Host it is sent.
    const base = `http://${req.headers.host!}`
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ issuer: stack.gatewayUrl, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks` }))
    return true
  }
  const { rawRequest } = await import('../helpers/raw-http.js')
  const reply = await rawRequest(stack.gatewayUrl, 'GET /.well-known/openid-configuration HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
  t.equal(reply.status, 200)
  const document = JSON.parse(reply.body) as Record<string, string>
  t.equal(new URL(document['authorization_endpoint']!).origin, stack.gatewayUrl, 'the legacy server was sent the issuer\'s Host')
  t.equal(hosts.at(-1), new URL(stack.gatewayUrl).host)
  // A relative Location resolves against the gateway's origin, never the client's Host.
  stack.script = undefined
  const browser = new Browser()
  recordAuthorizationRequests(stack, (p) => ({ status: 302, headers: { location: `/cb?code=c&state=${encodeURIComponent(p.get('state')!)}` } }))
  const first = await browser.get(`${stack.gatewayUrl}/auth?${query({ redirect_uri: 'http://client.example.org/cb' })}`, { headers: {} })
  await first.text()
  const spoofed = await rawRequest(stack.gatewayUrl, `GET /auth?${query({ redirect_uri: 'http://client.example.org/cb' })} HTTP/1.1\r\nHost: client.example.org\r\nConnection: close\r\n\r\n`)
  t.equal(spoofed.status, 302, 'a relative Location on the gateway\'s own origin passes on: it is not the redirect_uri')
  t.notMatch(spoofed.headers.find(([name]) => name === 'location')?.[1] ?? '', /response=/)
})

t.test('a page larger than limits.captured_page_bytes during a bound flow fails closed, wherever its form is (item 7)', async (t) => {
  const limit = 262144
  const browser = new Browser()
  recordAuthorizationRequests(stack, (p) => ({
    status: 200,
    headers: { 'content-type': 'text/html' },
    body: `<html><body><p>${'x'.repeat(limit * 3)}</p><form method="post" action="https://client.example.org/cb"><input type="hidden" name="code" value="PLAIN"><input type="hidden" name="state" value="${p.get('state')!}"></form></body></html>`,
  }))
  const response = await browser.get(`${stack.gatewayUrl}/auth?${query({ response_mode: 'form_post.jwt' })}`)
  const text = await response.text()
  t.equal(response.status, 502)
  t.match(text, /capture_too_large/)
  t.notMatch(text, /PLAIN/)
  // The same large page to a browser with no flow in progress streams on.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/big') return false
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<p>${'y'.repeat(limit + 10)}</p>`)
    return true
  }
  const plain = await fetch(`${stack.gatewayUrl}/big`)
  t.equal(plain.status, 200)
  t.equal((await plain.text()).length, limit + 17)
})

t.test('a flow is bound to the browser that started it (item 8)', async (t) => {
  // The legacy server parks the flow behind an interaction page, as real servers do.
  const starter = new Browser()
  const first = await starter.get(`${stack.gatewayUrl}/auth?${query({})}`)
  const bindingCookie = first.headers.getSetCookie().find((c) => c.startsWith('jarm-gw-'))
  t.ok(bindingCookie, 'the answer to the authorization request sets the binding cookie')
  t.match(bindingCookie!, /HttpOnly/)
  t.match(bindingCookie!, /SameSite=Lax/, 'plain HTTP: Lax, no __Host- prefix')
  const interaction = first.headers.get('location')!
  // Another browser replays the interaction: refused, nothing signed.
  const other = new Browser()
  const before = signed()
  const replay = await other.get(new URL(interaction, stack.gatewayUrl).href)
  t.equal(replay.status, 400)
  t.match(await replay.text(), /flow_not_bound/)
  t.equal(signed(), before)
  // Several flows at once in one browser each finish.
  const browser = new Browser()
  const a = await browser.get(`${stack.gatewayUrl}/auth?${query({ state: 'a' })}`)
  const b = await browser.get(`${stack.gatewayUrl}/auth?${query({ state: 'b' })}`)
  t.equal(browser.cookies.size, 2)
  for (const [start, state] of [[b, 'b'], [a, 'a']] as const) {
    const done = await browser.get(new URL(start.headers.get('location')!, stack.gatewayUrl).href)
    t.equal(done.status, 303)
    const { payload } = await verifyResponse(new URL(done.headers.get('location')!).searchParams.get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
    t.equal(payload['state'], state)
  }
  t.equal(browser.cookies.size, 0, 'each binding is cleared once its flow is answered')
})

t.test('the binding cookie is not forwarded to the legacy server', async (t) => {
  const browser = new Browser()
  const cookies: Array<string | undefined> = []
  await (await browser.get(`${stack.gatewayUrl}/auth?${query({})}`)).text()
  stack.script = (req, res, url) => {
    if (url.pathname !== '/page') return false
    cookies.push(req.headers.cookie)
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    return true
  }
  await (await browser.get(`${stack.gatewayUrl}/page`, { headers: {} })).text()
  t.same(cookies, [undefined])
  browser.cookies.set('legacy', 'session')
  await (await browser.get(`${stack.gatewayUrl}/page`)).text()
  t.same(cookies, [undefined, 'legacy=session'])
})

t.test('a legacy error that dropped state is wrapped for the one flow bound to the browser (item 8)', async (t) => {
  const browser = new Browser()
  // prompt=none: the authorization endpoint answers at once, with an error and without the state.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: 'https://client.example.org/cb?error=login_required' })
    res.end()
    return true
  }
  const done = await browser.get(`${stack.gatewayUrl}/auth?${query({ prompt: 'none' })}`)
  t.equal(done.status, 303)
  const { payload } = await verifyResponse(new URL(done.headers.get('location')!).searchParams.get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
  t.equal(payload['error'], 'login_required')
  t.equal(payload['state'], 'client-state')
  // Two flows to the same redirect_uri waiting in one browser cannot be told apart: fail closed.
  stack.script = undefined
  const two = new Browser()
  const x = await two.get(`${stack.gatewayUrl}/auth?${query({ state: 'x' })}`)
  await two.get(`${stack.gatewayUrl}/auth?${query({ state: 'y' })}`)
  stack.script = (_req, res, url) => {
    if (!url.pathname.startsWith('/interaction/')) return false
    res.writeHead(302, { location: 'https://client.example.org/cb?error=login_required' })
    res.end()
    return true
  }
  const ambiguous = await two.get(new URL(x.headers.get('location')!, stack.gatewayUrl).href)
  t.equal(ambiguous.status, 302, 'an error without state from a later page of the flow is not wrapped (it could be an open redirect\'s)')
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: 'https://client.example.org/cb?error=login_required' })
    res.end()
    return true
  }
  const fromEndpoint = await two.get(`${stack.gatewayUrl}/auth?client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&prompt=none`)
  t.equal(fromEndpoint.status, 502, 'from the authorization endpoint, two waiting flows cannot be told apart: fails closed')
  // A browser with no flow bound: the error passes on as it is (a plain flow's).
  const none = await fetch(`${stack.gatewayUrl}/auth?client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&prompt=none`, { redirect: 'manual' })
  t.equal(none.status, 302)
  t.equal(none.headers.get('location'), 'https://client.example.org/cb?error=login_required')
})

t.test('redirect_uris with their own state, response or fragment are refused (item 9)', async (t) => {
  for (const redirectUri of ['https://client.example.org/cb?state=x', 'https://client.example.org/cb?response=x', 'https://client.example.org/cb?code=x', 'https://client.example.org/cb#frag']) {
    const response = await fetch(`${stack.gatewayUrl}/auth?${query({ redirect_uri: redirectUri })}`, { redirect: 'manual' })
    t.equal(response.status, 400, redirectUri)
    t.match(await response.text(), /invalid_parameter/)
  }
})

t.test('a consent form posting the gateway\'s rewrite back to the URL the browser shows is sent on consistently (item 14)', async (t) => {
  const browser = new Browser()
  const original = query({ state: 'mine' })
  const posts: Array<{ query: URLSearchParams, body: URLSearchParams }> = []
  stack.script = async (req, res, url) => {
    if (url.pathname !== '/auth') return false
    if (req.method === 'GET') {
      // The consent page: a form with action "#" (the browser posts to the URL it shows) holding what the server received.
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<form method="post" action="#">${[...url.searchParams].map(([n, v]) => `<input type="hidden" name="${n}" value="${v}">`).join('')}<button>Allow</button></form>`)
      return true
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
    posts.push({ query: url.searchParams, body })
    plainAnswer(res, body)
    return true
  }
  const page = await (await browser.get(`${stack.gatewayUrl}/auth?${original}`)).text()
  const fields = [...page.matchAll(/name="([^"]*)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string])
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const done = await browser.get(`${stack.gatewayUrl}/auth?${original}`, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: form })
  t.equal(done.status, 303, 'not refused as duplicate_parameter')
  t.equal(posts.length, 1)
  const { query: sent, body } = posts[0]!
  t.equal(sent.get('state'), body.get('state'), 'the query carries the sealed state the body does')
  t.equal(sent.get('response_mode'), 'query', 'and the plain mode')
  const { payload } = await verifyResponse(new URL(done.headers.get('location')!).searchParams.get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
  t.equal(payload['state'], 'mine')
  // Any other mix stays refused.
  const forged = new URLSearchParams(fields)
  forged.set('client_id', 'other')
  const refused = await browser.get(`${stack.gatewayUrl}/auth?${original}`, { method: 'POST', body: forged.toString(), headers: form })
  t.equal(refused.status, 400)
  t.match(await refused.text(), /duplicate_parameter/)
})

t.test('a content-encoded authorization request body is refused: the legacy server could decode what the gateway never read', async (t) => {
  const { gzipSync } = await import('node:zlib')
  const response = await fetch(`${stack.gatewayUrl}/auth`, { method: 'POST', body: gzipSync(query({})), headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, redirect: 'manual' })
  t.equal(response.status, 415)
  t.match(await response.text(), /must not be content-encoded/)
  const identity = await fetch(`${stack.gatewayUrl}/auth`, { method: 'POST', body: query({}), headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'identity' }, redirect: 'manual' })
  t.equal(identity.status, 303)
})

t.test('an error without state: an unparseable Location, or a bound cookie whose flow does not open, is no candidate', async (t) => {
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    const prompt = url.searchParams.get('prompt')
    res.writeHead(302, { location: prompt === 'bad' ? 'http://[bad/cb?error=x' : prompt === 'odd' ? 'https://client.example.org/cb?note=error=x' : prompt === 'stated' ? 'https://client.example.org/cb#error=x&state=s' : 'https://client.example.org/cb?error=login_required' })
    res.end()
    return true
  }
  const plain = `client_id=app1&response_type=code&redirect_uri=${encodeURIComponent('https://client.example.org/cb')}`
  const browser = new Browser()
  browser.cookies.set('jarm-gw-AAAAAAAAAAAAAAAA', 'jg1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
  const unparseable = await browser.get(`${stack.gatewayUrl}/auth?${plain}&prompt=bad`)
  t.equal(unparseable.status, 302, 'passed on as the legacy server wrote it')
  t.equal((await browser.get(`${stack.gatewayUrl}/auth?${plain}&prompt=odd`)).status, 302, '"error=" inside another parameter is no error')
  t.equal((await browser.get(`${stack.gatewayUrl}/auth?${plain}&prompt=stated`)).status, 302, 'an error with a (plain) state is not one that dropped it')
  const foreign = await browser.get(`${stack.gatewayUrl}/auth?${plain}&prompt=none`)
  t.equal(foreign.status, 302, 'a cookie that opens no flow waits for nothing: the plain error passes on')
  t.equal(foreign.headers.get('location'), 'https://client.example.org/cb?error=login_required')
})

t.test('a fragment error without state is wrapped for the fragment flow waiting on it', async (t) => {
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: 'https://client.example.org/cb#error=login_required' })
    res.end()
    return true
  }
  const done = await new Browser().get(`${stack.gatewayUrl}/auth?${query({ response_type: 'id_token', response_mode: 'fragment.jwt', nonce: 'n', prompt: 'none' })}`)
  t.equal(done.status, 303)
  const location = new URL(done.headers.get('location')!)
  const { payload } = await verifyResponse(new URLSearchParams(location.hash.slice(1)).get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
  t.equal(payload['error'], 'login_required')
})
