// Adversarial review (branch attack-review): attacks that did NOT work against the current code,
// kept as regression guards. Each asserts the secure behaviour the README / SECURITY.md promise.
// The ones that broke a promise are in adversarial-findings.test.ts.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { rawRequest } from '../helpers/raw-http.js'
import { AUTHORIZATION_PATH, REDIRECT_URI, startFakeStack, startScriptedStack, type UpstreamRequest } from '../helpers/fake-legacy-server.js'
import { CookieBrowser } from '../helpers/cookie-browser.js'

/** What the legacy server does with a request the test did not script: a 200 text login page. */
const { stack, handlers } = await startScriptedStack({ upstream: { timeout_ms: 1500 } })
t.teardown(() => stack.close())
t.afterEach(() => { handlers.current = undefined })
const host = new URL(stack.gatewayUrl).host
const signed = (): number => stack.logs.filter((line) => line['event'] === 'jarm.response').length

const Browser = CookieBrowser

function query (parameters: Record<string, string> = {}): string {
  return new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: REDIRECT_URI, response_mode: 'query.jwt', state: 'client-state', scope: 'openid', ...parameters }).toString()
}

function answerAtOnce (write: (sealed: string, res: ServerResponse, request: UpstreamRequest) => void): void {
  handlers.current = (request, res) => {
    if (request.path !== AUTHORIZATION_PATH) return false
    write(request.params.get('state')!, res, request)
    return true
  }
}

/** Whether the legacy server, since `before`, read the client's JWT mode or own state anywhere. */
function sawUnrewritten (before: number): boolean {
  return stack.received.slice(before).some((r) => r.params.get('response_mode')?.endsWith('jwt') === true || r.params.get('state') === 'client-state' ||
    r.body.toString('latin1').includes('query.jwt'))
}

// --- request framing / desync --------------------------------------------------------------------

t.test('CL+TE, TE with obs-fold, duplicate CL, bare LF and chunked,identity are refused before the legacy server reads a hidden JWT request', async (t) => {
  const hidden = `GET ${AUTHORIZATION_PATH}?${query()} HTTP/1.1\r\nHost: ${host}\r\n\r\n`
  const cases: Record<string, string> = {
    'CL+TE': `POST /login HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`,
    'TE obs-fold': `POST /login HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
    'two CL': `POST /login HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
    'TE chunked, identity': `POST /login HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked, identity\r\n\r\n${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`,
    'bare LF head': `POST /login HTTP/1.1\nHost: ${host}\nContent-Length: ${hidden.length}\n\n${hidden}`,
    'chunked GET with chunk extension': `GET /login HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n${hidden.length.toString(16)};ext="x\r\n${hidden}\r\n0\r\n\r\n`,
  }
  for (const [name, request] of Object.entries(cases)) {
    const before = stack.received.length
    const reply = await rawRequest(stack.gatewayUrl, request, 2000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.notOk(sawUnrewritten(before), `${name}: the legacy server never reads the hidden JWT-mode request (status ${reply.status})`)
  }
})

t.test('Upgrade and Expect on a JWT-mode authorization request do not skip the rewrite', async (t) => {
  for (const extra of ['Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n', 'Expect: 100-continue\r\n', 'Connection: close, content-type, host\r\n']) {
    const before = stack.received.length
    await rawRequest(stack.gatewayUrl, `GET ${AUTHORIZATION_PATH}?${query()} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`, 2000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.notOk(sawUnrewritten(before), `${JSON.stringify(extra.split(':')[0])}: rewritten or refused`)
  }
})

t.test('pipelined requests: a JWT-mode request second on the connection is rewritten too', async (t) => {
  const before = stack.received.length
  const body = 'x=1'
  await rawRequest(stack.gatewayUrl, `POST /login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}GET ${AUTHORIZATION_PATH}?${query()} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 2000)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(sawUnrewritten(before))
  t.ok(stack.received.slice(before).some((r) => r.path === AUTHORIZATION_PATH && r.params.get('state')?.startsWith('jg1.') === true), 'the second request was sealed')
})

// --- path and parameter spellings ----------------------------------------------------------------

t.test('authorization endpoint spellings with dot segments, ;params, %-escapes and backslashes are rewritten', async (t) => {
  for (const path of ['/x/../authorize', '/x/%2e%2e/authorize', '/authorize/..;/authorize', '/%61uthorize', '/AUTHORIZE;jsessionid=1', '/.//authorize', '\\authorize', '/authorize/.', '/Authorize/;x=1']) {
    const before = stack.received.length
    await rawRequest(stack.gatewayUrl, `GET ${path}?${query()} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 2000)
    t.notOk(sawUnrewritten(before), `${path}`)
  }
})

t.test('parameter pollution across query and body, empty duplicates, encoded names', async (t) => {
  const cases: Array<[string, string]> = [
    [`?${query()}`, 'response_mode=query'],
    [`?${query()}`, 'state=other'],
    [`?client_id=app1&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&state=client-state`, 'response_mode=query.jwt&response_mode='],
    [`?${query({ state: '' })}&state=client-state`, ''],
    [`?response%5Fmode=query.jwt&client_id=app1&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&state=client-state`, ''],
  ]
  for (const [search, body] of cases) {
    const before = stack.received.length
    const response = await fetch(`${stack.gatewayUrl}${AUTHORIZATION_PATH}${search}`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' })
    await response.arrayBuffer()
    t.notOk(sawUnrewritten(before), `${search.slice(0, 40)} + ${body}: refused or rewritten (status ${response.status})`)
  }
})

t.test('an application/x-www-form-urlencoded POST with an odd Content-Type spelling is still read', async (t) => {
  for (const type of ['Application/X-WWW-Form-Urlencoded', 'application/x-www-form-urlencoded ; charset=utf-8', 'application/x-www-form-urlencoded;charset="utf-8"']) {
    const before = stack.received.length
    const response = await fetch(`${stack.gatewayUrl}${AUTHORIZATION_PATH}`, { method: 'POST', body: query(), headers: { 'content-type': type }, redirect: 'manual' })
    await response.arrayBuffer()
    t.notOk(sawUnrewritten(before), type)
  }
})

// --- redirect_uri tricks -------------------------------------------------------------------------

t.test('a legacy redirect to a redirect_uri spelled differently is never signed as the flow\'s', async (t) => {
  const variants = [
    'https://CLIENT.example.org/cb', 'https://client.example.org:443/cb', 'https://client.example.org/cb/', 'https://client.example.org/CB',
    'https://client.example.org/x/../cb', 'https://user@client.example.org/cb', 'https://client.example.org.evil/cb', 'https:\\\\client.example.org\\cb',
    'https://client.example.org%2F@evil.example/cb', 'http://client.example.org/cb', '//evil.example/cb', 'https://client.example.org/%63b',
  ]
  for (const redirectUri of ['https://client.example.org/cb', 'https://client.example.org:8443/cb', 'https://client.example.org/c%62']) {
    for (const variant of variants) {
      if (variant === redirectUri) continue
      answerAtOnce((sealed, res) => { res.writeHead(302, { location: `${variant}?code=C&state=${encodeURIComponent(sealed)}` }).end() })
      const browser = new Browser()
      const before = signed()
      const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ redirect_uri: redirectUri })}`)
      await response.text()
      const location = response.headers.get('location') ?? ''
      const sameAsBrowser = new URL(variant, stack.gatewayUrl).href.split('?')[0] === new URL(redirectUri).href
      if (sameAsBrowser) continue
      t.equal(signed(), before, `${redirectUri} ← ${variant}: not signed`)
      t.notOk(location.includes('code=C'), `${redirectUri} ← ${variant}: the plain code does not travel`)
    }
  }
})

t.test('redirect_uris with control characters, raw non-ASCII, fragments or response parameters are refused before sealing', async (t) => {
  for (const redirectUri of ['https://client.example.org/cb\t', 'https://client.example.org/c\u00e9', 'https://client.example.org/cb#x', 'https://client.example.org/cb?st%61te=1', 'https://client.example.org/cb?response=1', 'https://client.example.org/cb?a=1&code']) {
    const before = stack.received.length
    const response = await fetch(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ redirect_uri: redirectUri })}`, { redirect: 'manual' })
    await response.text()
    t.equal(response.status, 400, JSON.stringify(redirectUri))
    t.equal(stack.received.length, before, 'the legacy server never sees it')
  }
})

// --- sealed-state replays and cookies ------------------------------------------------------------

t.test('a sealed state replayed in another browser, with forged or tossed cookies, is never signed', async (t) => {
  // The attacker's own flow gives it a sealed state and its binding cookie name and value.
  let sealed = ''
  answerAtOnce((s, res) => { sealed = s; res.writeHead(200, { 'content-type': 'text/plain' }).end('login') })
  const attacker = new Browser()
  await (await attacker.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)).text()
  const [name, value] = [...attacker.cookies][0]!
  // The legacy server later redirects a victim's browser with the attacker's sealed state.
  handlers.current = (request, res) => {
    if (request.path !== '/resume') return false
    res.writeHead(302, { location: `${REDIRECT_URI}?code=ATTACKER-CODE&state=${encodeURIComponent(sealed)}` }).end()
    return true
  }
  const jars = [
    '', `${name}=${value.slice(0, -1)}`, `${name}=${value}x`, `${name}="${value}"`, `jarm-gw-AAAAAAAAAAAAAAAA=${value}`, `__Host-${name}=${value}`,
    `${name.toUpperCase()}=${value}`, `x=1; ${'junk=1; '.repeat(500)}`, `${name}=%${value}`,
  ]
  for (const cookie of jars) {
    const before = signed()
    const response = await fetch(`${stack.gatewayUrl}/resume`, { headers: cookie === '' ? {} : { cookie }, redirect: 'manual' })
    await response.text()
    t.equal(signed(), before, `cookie ${cookie.slice(0, 40)}: not signed`)
    t.notOk((response.headers.get('location') ?? '').includes('ATTACKER-CODE'), 'the plain code does not travel either')
  }
})

t.test('the binding cookie never reaches the legacy server, however it is spelled in the Cookie header', async (t) => {
  const browser = new Browser()
  await (await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)).text()
  const [name, value] = [...browser.cookies][0]!
  for (const cookie of [`${name}=${value}`, ` ${name} = ${value} ; a=b`, `a=b;${name}=${value}`, `a=b;\t${name}=${value}`]) {
    const before = stack.received.length
    await (await fetch(`${stack.gatewayUrl}/login`, { headers: { cookie } })).text()
    const forwarded = stack.received.slice(before).map((r) => String(r.headers.cookie ?? '')).join('|')
    t.notOk(forwarded.includes(value), JSON.stringify(cookie.slice(0, 30)))
  }
})

t.test('a sealed state truncated, extended or with a changed byte never becomes a response', async (t) => {
  let sealed = ''
  answerAtOnce((s, res) => { sealed = s; res.writeHead(200, { 'content-type': 'text/plain' }).end('login') })
  const browser = new Browser()
  await (await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)).text()
  for (const spoiled of [sealed.slice(0, -1), `${sealed}A`, sealed.replace('jg1.', 'jg1.A'), `${sealed}=`, `${sealed.slice(0, 10)}+${sealed.slice(11)}`]) {
    handlers.current = (request, res) => {
      if (request.path !== '/resume') return false
      res.writeHead(302, { location: `${REDIRECT_URI}?code=C&state=${encodeURIComponent(spoiled)}` }).end()
      return true
    }
    const before = signed()
    const response = await browser.get(`${stack.gatewayUrl}/resume`)
    await response.text()
    t.equal(signed(), before)
    t.notOk((response.headers.get('location') ?? '').includes('response='))
  }
})

// --- a reflective legacy server ------------------------------------------------------------------

t.test('a login page that reflects an attacker\'s code= in a form or redirect to the redirect_uri is not signed', async (t) => {
  const shapes: Array<(sealed: string, res: ServerResponse) => void> = [
    // the original query carried on, with a code the attacker added
    (sealed, res) => { res.writeHead(302, { location: `${REDIRECT_URI}?client_id=app1&code=CHOSEN&state=${encodeURIComponent(sealed)}&scope=openid` }).end() },
    // an error page's "back to the application" form with hidden fields
    (sealed, res) => { res.writeHead(400, { 'content-type': 'text/html' }).end(`<form action="${REDIRECT_URI}"><input name="error" value="x"><input name="code" value="CHOSEN"><input name="state" value="${sealed}"></form>`) },
    // an inline-script redirect the gateway cannot run
    (sealed, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(`<script>location.replace(${JSON.stringify(`${REDIRECT_URI}?code=CHOSEN&state=${sealed}`)})</script>`) },
    // inputs tied to the form by the form= attribute, outside it
    (sealed, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(`<form id="f" method="post" action="${REDIRECT_URI}"></form><input form="f" name="code" value="CHOSEN"><input form="f" name="state" value="${sealed}">`) },
    // a meta refresh in odd spelling
    (sealed, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(`<META HTTP-EQUIV=Refresh CONTENT="0;URL='${REDIRECT_URI}?code=CHOSEN&state=${sealed}&junk=1'">`) },
    // two Location-like answers: a sealed form past a fake closing html, in a sniffed type
    (sealed, res) => { res.writeHead(200, { 'content-type': 'unknown/unknown' }).end(`</html><form method=post action=${REDIRECT_URI}><input name=code value=CHOSEN><input name=state value=${sealed}><input name=extra value=1></form>`) },
  ]
  for (const [index, shape] of shapes.entries()) {
    answerAtOnce(shape)
    const before = signed()
    const response = await new Browser().get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)
    const body = await response.text()
    t.equal(signed(), before, `shape ${index}: not signed`)
    t.notOk(body.includes('CHOSEN') || (response.headers.get('location') ?? '').includes('CHOSEN'), `shape ${index}: the code does not travel in plain`)
  }
})

t.test('Location oddities: two Locations, a javascript: URL, an error beside a code, a repeated code', async (t) => {
  const cases: Array<(sealed: string, res: ServerResponse) => void> = [
    (sealed, res) => { res.setHeader('location', [`/login?state=${sealed}`, `${REDIRECT_URI}?code=PLAIN&state=${sealed}`]); res.writeHead(302).end() },
    (sealed, res) => { res.writeHead(302, { location: `javascript:location='${REDIRECT_URI}?code=PLAIN&state=${sealed}'` }).end() },
    (sealed, res) => { res.writeHead(302, { location: `${REDIRECT_URI}?code=PLAIN&state=${sealed}&error=x` }).end() },
    (sealed, res) => { res.writeHead(302, { location: `${REDIRECT_URI}?code=PLAIN&code=PLAIN2&state=${sealed}` }).end() },
  ]
  for (const [index, write] of cases.entries()) {
    answerAtOnce(write)
    const before = signed()
    const response = await new Browser().get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)
    await response.text()
    t.equal(signed(), before, `case ${index}: not signed`)
    t.notOk((response.headers.get('location') ?? '').includes('code=PLAIN'), `case ${index}: no plain code`)
  }
})

t.test('a gzip bomb or a slow page from the legacy server ends within bounds', async (t) => {
  const { gzipSync } = await import('node:zlib')
  answerAtOnce((sealed, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(64 * 1024 * 1024, 'a')))
    void sealed
  })
  const started = Date.now()
  const response = await new Browser().get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'form_post.jwt' })}`)
  await response.arrayBuffer()
  t.ok(response.status === 502, `a bomb during a sign-in fails closed (${response.status})`)
  t.ok(Date.now() - started < 5000, 'quickly')
  answerAtOnce((_sealed, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.write('<html>') })
  const slow = await new Browser().get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'form_post.jwt' })}`).catch((error: Error) => error)
  if (slow instanceof Response) await slow.arrayBuffer().catch(() => undefined)
  t.ok(slow instanceof Error || slow.status >= 500, 'a stalled page ends in an error')
})

// --- Host --------------------------------------------------------------------------------------------

t.test('a hostile Host never reaches the legacy server, and never steers relative Locations', async (t) => {
  for (const hostHeader of ['evil.example', `${host}@evil.example`, `evil.example#${host}`, `${host}:80`, `[::1]`, 'EVIL.example.']) {
    const before = stack.received.length
    const reply = await rawRequest(stack.gatewayUrl, `GET /login HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`, 2000)
    const seen = stack.received.slice(before).map((r) => `${String(r.headers.host)} ${String(r.headers['x-forwarded-host'])}`).join('|')
    t.notOk(/evil/i.test(seen), `${hostHeader}: the legacy server sees the issuer's host (status ${reply.status})`)
  }
})

t.test('hostile framing of the legacy server\'s answers ends in a bounded 5xx, never a hang or a crash', async (t) => {
  const raw: Record<string, string> = {
    'CL beside TE': 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'gzip transfer coding': 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    'not HTTP': 'SSH-2.0-OpenSSH_9.0\r\n',
    '100 then silence': 'HTTP/1.1 100 Continue\r\n\r\n',
    'short body': 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<form>',
  }
  for (const [name, bytes] of Object.entries(raw)) {
    handlers.current = (request, res) => {
      if (request.path !== AUTHORIZATION_PATH) return false
      res.socket!.write(bytes)
      setTimeout(() => res.socket?.destroy(), name === '100 then silence' ? 3000 : 200)
      return true
    }
    const started = Date.now()
    const reply = await rawRequest(stack.gatewayUrl, `GET ${AUTHORIZATION_PATH}?${query({ response_mode: 'form_post.jwt' })} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 6000)
    t.ok(reply.answered, `${name}: answered or closed`)
    t.ok(reply.status === undefined || reply.status >= 500, `${name}: no success from a broken answer (status ${reply.status})`)
    t.ok(Date.now() - started < 5000, `${name}: within bounds`)
  }
  // the gateway still serves requests afterwards
  const health = await fetch(`${stack.gatewayUrl}/healthz`)
  t.equal(health.status, 200)
})

t.test('a sealed state replayed after state.ttl_seconds, in the browser that holds its cookie, is flow_state_expired', async (t) => {
  let clock = Date.now()
  let sealed = ''
  const timed = await startFakeStack({
    now: () => clock,
    config: { state: { secrets: ['a-test-secret-for-sealing-flow-state-0123456789'], ttl_seconds: 60 } },
    handler: (request, res) => {
      if (request.path === AUTHORIZATION_PATH) { sealed = request.params.get('state')!; res.writeHead(200, { 'content-type': 'text/plain' }).end('login'); return }
      res.writeHead(302, { location: `${REDIRECT_URI}?code=LATE&state=${encodeURIComponent(sealed)}` }).end()
    },
  })
  t.teardown(() => timed.close())
  const browser = new Browser()
  await (await browser.get(`${timed.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)).text()
  clock += 61_000
  const response = await browser.get(`${timed.gatewayUrl}/resume`)
  const body = await response.text()
  t.equal(response.status, 400)
  t.match(body, /flow_state_expired/)
  t.notOk((response.headers.get('location') ?? '').includes('LATE'))
})

t.test('an error without state in a browser with two flows waiting at that redirect_uri fails closed', async (t) => {
  const browser = new Browser()
  for (const state of ['one', 'two']) await (await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ state })}`)).text()
  t.equal(browser.cookies.size, 2)
  // The authorization endpoint itself answers an error without state (the only answer such an error is wrapped from).
  handlers.current = (request, res) => {
    if (request.path !== AUTHORIZATION_PATH || request.params.get('prompt') !== 'none') return false
    res.writeHead(302, { location: `${REDIRECT_URI}?error=login_required` }).end()
    return true
  }
  const before = signed()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?client_id=app1&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&prompt=none`)
  await response.text()
  t.equal(signed(), before, 'not signed for either')
  t.equal(response.status, 502, 'capture_failed')
})

t.test('odd request targets and Host values end in a defined 4xx (never a 500 or a hang) and never reach the legacy server unrewritten', async (t) => {
  const targets = [
    `http://[::1${AUTHORIZATION_PATH}?${query()}`, `http://${host}:99999${AUTHORIZATION_PATH}?${query()}`, `?${query()}`, `*`,
    `https://${host}${AUTHORIZATION_PATH}?${query()}`, `HTTP://${host.toUpperCase()}${AUTHORIZATION_PATH}?${query()}`, `ftp://${host}${AUTHORIZATION_PATH}?${query()}`,
    `${AUTHORIZATION_PATH}?${query()}#frag`, `http://u@${host}${AUTHORIZATION_PATH}?${query()}`, `${AUTHORIZATION_PATH}%3F${query()}`,
  ]
  for (const target of targets) {
    const before = stack.received.length
    const reply = await rawRequest(stack.gatewayUrl, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 3000)
    t.ok(reply.answered, `${target.slice(0, 50)}: answered`)
    t.ok(reply.status === undefined || reply.status < 500, `${target.slice(0, 50)}: no 5xx (status ${reply.status})`)
    t.notOk(sawUnrewritten(before), `${target.slice(0, 50)}: never unrewritten`)
  }
  for (const hostHeader of ['', ' ', `${host}, ${host}`, 'a b', '[::1]:x', '1.2.3.4.5', '%65vil.example', 'xn--nxasmq6b.example', '\u00e9vil.example']) {
    const reply = await rawRequest(stack.gatewayUrl, Buffer.from(`GET ${AUTHORIZATION_PATH}?${query()} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`, 'latin1'), 3000)
    t.ok(reply.status === undefined || reply.status < 500, `Host ${JSON.stringify(hostHeader)}: no 5xx (status ${reply.status})`)
  }
})
