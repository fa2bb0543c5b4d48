// Adversarial review of issue 11, made from README.md and SECURITY.md alone: attacks that broke a
// promise of theirs. Every test here asserts the secure behaviour, failed against the code the
// review attacked, and passes since its fix (SECURITY.md, "Closed by the attack review"). Each says
// the attack, its impact and a severity.
//
// The target runs behind test/helpers/fake-legacy-server.ts: a legacy server whose answers each
// test scripts (reflective pages, odd encodings, PAR), recording exactly what it received.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { rawRequest } from '../helpers/raw-http.js'
import { AUTHORIZATION_PATH, PAR_PATH, REDIRECT_URI, startFakeStack, startScriptedStack } from '../helpers/fake-legacy-server.js'
import { CookieBrowser } from '../helpers/cookie-browser.js'

/** What the legacy server does with a request the test did not script: a 200 text login page. */
const { stack, handlers } = await startScriptedStack()
t.teardown(() => stack.close())
t.afterEach(() => { handlers.current = undefined })

const signed = (): number => stack.logs.filter((line) => line['event'] === 'jarm.response').length

const Browser = CookieBrowser

function query (parameters: Record<string, string> = {}): string {
  return new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: REDIRECT_URI, response_mode: 'form_post.jwt', state: 'client-state', scope: 'openid', ...parameters }).toString()
}

/** A legacy server with a session: it answers the authorization request itself, with `page(sealedState)`. */
function answerAtOnce (write: (sealed: string, res: ServerResponse) => void): void {
  handlers.current = (request, res) => {
    if (request.path !== AUTHORIZATION_PATH) return false
    write(request.params.get('state')!, res)
    return true
  }
}

function formPostPage (action: string, fields: Array<[string, string]>, head = ''): string {
  return `<!DOCTYPE html><html><head>${head}</head><body onload="document.forms[0].submit()"><form method="post" action="${action}">` +
    fields.map(([n, v]) => `<input type="hidden" name="${n}" value="${v}">`).join('') + '</form></body></html>'
}

// ---------------------------------------------------------------------------------------------
// A JWT-mode request reaching the legacy server unrewritten (SECURITY.md guarantee 6)
// ---------------------------------------------------------------------------------------------

// Severity: medium. Attack: send the authorization request with a method other than GET, HEAD or
// POST (PUT, PATCH, DELETE, OPTIONS). The gateway only rewrites those three methods, so the query
// (response_mode=query.jwt, the client's own state) goes to the legacy server as sent. Many legacy
// servers route any method to the authorization endpoint (Spring Security OAuth's
// `@RequestMapping("/oauth/authorize")`, servlet `service()`, Express `app.all`): they read the
// JWT mode they do not know, fall back to their default mode and answer a plain code with the
// client's own state. Impact: guarantee 6 ("never reaches the legacy server unrewritten") broken;
// the code travels unsigned, and the flow escapes every capture rule (no sealed state).
t.test('an authorization request with a JWT mode under PUT/PATCH/DELETE/OPTIONS never reaches the legacy server unrewritten', async (t) => {
  for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const before = stack.received.length
    const response = await fetch(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}`, { method, redirect: 'manual' })
    await response.arrayBuffer()
    const reached = stack.received.slice(before).filter((r) => r.path === AUTHORIZATION_PATH)
    t.notOk(reached.some((r) => r.params.get('response_mode') === 'query.jwt' || r.params.get('state') === 'client-state'),
      `${method}: the legacy server must not read the client's JWT mode and own state (status ${response.status})`)
  }
})

// Severity: medium. Attack: POST the authorization request as multipart/form-data (or JSON) with
// response_mode=query.jwt in the body and nothing in the query. The gateway reads only
// urlencoded bodies and, finding no JWT mode in the query, forwards the body unread. Servlet
// containers with a multipart resolver (Spring Boot's default), PHP, Express+multer, ASP.NET all
// read multipart fields as request parameters. Impact: same as above, guarantee 6 broken for POST,
// the one method it names. (README: "a JWT-mode query on a POST whose body is not a form is
// refused (415)" covers only the query.)
t.test('a POSTed authorization request with a JWT mode in a multipart body never reaches the legacy server unread', async (t) => {
  const boundary = 'XyZboundary'
  const fields: Record<string, string> = { client_id: 'app1', response_type: 'code', redirect_uri: REDIRECT_URI, response_mode: 'query.jwt', state: 'client-state' }
  const body = Object.entries(fields).map(([n, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`).join('') + `--${boundary}--\r\n`
  const before = stack.received.length
  const response = await fetch(`${stack.gatewayUrl}${AUTHORIZATION_PATH}`, { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, redirect: 'manual' })
  await response.arrayBuffer()
  const reached = stack.received.slice(before).filter((r) => r.path === AUTHORIZATION_PATH)
  t.notOk(reached.some((r) => r.body.toString('latin1').includes('query.jwt')), `the legacy server must not get an unread body asking for query.jwt (status ${response.status})`)
})

// Severity: low/medium. Attack: a GET to the authorization endpoint whose query has no JWT mode but
// which carries a urlencoded body (Content-Length) with response_mode=query.jwt&state=... The
// gateway judges the query only and forwards the body framed as it came. Frameworks that parse a
// form body for any method (Express body-parser, Koa bodyparser, Rails, Django REST) merge it
// into the parameters. Impact: guarantee 6 broken ("none can hide inside another's body").
t.test('a GET authorization request cannot carry a JWT mode in a body the gateway does not read', async (t) => {
  const body = 'response_mode=query.jwt&state=client-state'
  const target = `${AUTHORIZATION_PATH}?${new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: REDIRECT_URI })}`
  const before = stack.received.length
  const host = new URL(stack.gatewayUrl).host
  const reply = await rawRequest(stack.gatewayUrl, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  const reached = stack.received.slice(before).filter((r) => r.path === AUTHORIZATION_PATH)
  t.notOk(reached.some((r) => r.body.toString('latin1').includes('query.jwt')), `the legacy server must not get a body asking for query.jwt (status ${reply.status})`)
})

// ---------------------------------------------------------------------------------------------
// A plain credential of a sealed flow travelling unsigned (SECURITY.md guarantee 3, README
// "Failing closed": a credential of a sealed flow sent anywhere fails closed)
// ---------------------------------------------------------------------------------------------

// Severity: medium. Attack (legacy side): a form_post page whose state value is written with a
// character reference in the `jg1.` prefix (`&#106;g1.…`, as encoders that escape every character,
// or the first one, do; README promises "named, decimal and hex entities (values and action)").
// The gateway's cheap pre-check looks for the raw text `jg1.` before parsing: it is absent, so the
// page streams through untouched. The browser decodes the entity and auto-posts the plain code and
// the sealed state to the redirect_uri. Impact: a plain, unsigned code delivered to a client that
// asked for form_post.jwt, bypassing capture entirely.
t.test('a form_post page whose sealed state is written with character references is captured, not passed on in plain', async (t) => {
  answerAtOnce((sealed, res) => {
    const encodedState = `&#106;${sealed.slice(1)}`
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(formPostPage(REDIRECT_URI, [['code', 'PLAIN-CODE-ENTITY'], ['state', encodedState]]))
  })
  const browser = new Browser()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)
  const body = await response.text()
  t.notOk(body.includes('PLAIN-CODE-ENTITY'), 'the plain code never reaches the browser')
})

// Severity: low/medium. Attack (legacy side): the form_post page is served as UTF-16
// (`Content-Type: text/html; charset=utf-16le`, with a BOM). The gateway decodes every page as
// UTF-8 for its `jg1.` check, finds nothing (every other byte is NUL) and streams the page; the
// browser renders it as UTF-16 and auto-posts the plain code. Impact: plain code delivered.
t.test('a form_post page in UTF-16 is captured or fails closed, not passed on in plain', async (t) => {
  answerAtOnce((sealed, res) => {
    const page = formPostPage(REDIRECT_URI, [['code', 'PLAIN-CODE-UTF16'], ['state', sealed]])
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-16le' }).end(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(page, 'utf16le')]))
  })
  const browser = new Browser()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)
  const body = Buffer.from(await response.arrayBuffer()).toString('utf16le')
  t.notOk(body.includes('PLAIN-CODE-UTF16'), 'the plain code never reaches the browser')
})

// Severity: low/medium. Attack (legacy side): a form_post page with `<base href="https://client.example.org/">`
// and a relative action `cb`. A browser resolves the action against the base, so it posts the
// plain code and sealed state to the redirect_uri; the gateway resolves it against its own URL,
// sees a form to its own origin ("a login page") and passes the page on. Impact: plain code
// delivered, capture bypassed.
t.test('a form_post page with <base href> is read as a browser reads it', async (t) => {
  answerAtOnce((sealed, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(formPostPage('cb', [['code', 'PLAIN-CODE-BASE'], ['state', sealed]], '<base href="https://client.example.org/">'))
  })
  const browser = new Browser()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query()}`)
  t.notOk((await response.text()).includes('PLAIN-CODE-BASE'), 'the plain code never reaches the browser')
})

// Severity: low/medium. Attack (legacy side): the legacy server's "redirecting…" page sends the
// browser on with the HTTP `Refresh` header (`Refresh: 0; url=…`, honoured by every browser)
// instead of `Location`, on a text/plain answer. The gateway reads `<meta http-equiv=refresh>`
// "like a Location" but never the header, and streams text/plain from its first byte. Impact: the
// plain code and sealed state reach the redirect_uri unsigned.
t.test('a Refresh header carrying a sealed flow\'s code is captured or fails closed', async (t) => {
  answerAtOnce((sealed, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', refresh: `0; url=${REDIRECT_URI}?code=PLAIN-CODE-REFRESH&state=${encodeURIComponent(sealed)}` }).end('redirecting')
  })
  const browser = new Browser()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}`)
  await response.text()
  t.notMatch(response.headers.get('refresh') ?? '', /PLAIN-CODE-REFRESH/, 'the plain code never reaches the browser')
})

// Severity: low. Attack (legacy side): a Location whose `state` name is percent-encoded
// (`st%61te=jg1.…`). URL parsers (the client's, the gateway's own) read it as `state`, but the
// gateway first checks the raw header for `state=` and skips capture. Impact: plain code delivered.
t.test('a Location with a percent-encoded state name is captured or fails closed', async (t) => {
  answerAtOnce((sealed, res) => {
    res.writeHead(302, { location: `${REDIRECT_URI}?code=PLAIN-CODE-PCT&st%61te=${encodeURIComponent(sealed)}` }).end()
  })
  const browser = new Browser()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}`)
  await response.text()
  t.notMatch(response.headers.get('location') ?? '', /PLAIN-CODE-PCT/, 'the plain code never reaches the browser')
})

// Severity: medium. Attack (legacy side, PAR): flows sealed at the PAR endpoint are not bound to
// a browser, and the front-channel request (client_id + request_uri) seals nothing. The "large
// page" rule fails closed only "in a browser with a flow in progress (bound, or just started)", so
// for a PAR flow a form_post page over limits.captured_page_bytes whose form lies past the limit
// is streamed in plain: exactly the hole the attack review table says was closed. Impact: plain
// code of a form_post.jwt flow delivered unsigned.
t.test('a PAR flow\'s form_post page over the capture limit fails closed', async (t) => {
  let sealed: string | undefined
  handlers.current = (request, res) => {
    if (request.path === PAR_PATH) {
      sealed = request.params.get('state') ?? undefined
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ request_uri: 'urn:ietf:params:oauth:request_uri:abc', expires_in: 60 }))
      return true
    }
    if (request.path === AUTHORIZATION_PATH && request.params.get('request_uri') !== null) {
      const padding = `<!-- ${'x'.repeat(1024 * 1024)} -->`
      res.writeHead(200, { 'content-type': 'text/html' }).end(padding + formPostPage(REDIRECT_URI, [['code', 'PLAIN-CODE-PAR'], ['state', sealed!]]))
      return true
    }
    return false
  }
  const pushed = await fetch(`${stack.gatewayUrl}${PAR_PATH}`, { method: 'POST', body: query(), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic YXBwMTpzZWNyZXQ=' } })
  t.equal(pushed.status, 201)
  await pushed.text()
  t.ok(sealed?.startsWith('jg1.'), 'the pushed request was sealed')
  const browser = new Browser()
  const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?client_id=app1&request_uri=${encodeURIComponent('urn:ietf:params:oauth:request_uri:abc')}`)
  const text = await response.text()
  t.notOk(text.includes('PLAIN-CODE-PAR'), 'the plain code never reaches the browser')
})

// ---------------------------------------------------------------------------------------------
// Signing what the legacy server never answered (guarantee 3)
// ---------------------------------------------------------------------------------------------

// Severity: medium. Attack (third party + a reflective legacy server): the victim has a flow in
// progress (its binding cookie). The attacker makes the victim's browser follow a link into any
// legacy endpoint on the "authorization flow" that redirects where a parameter says (a login
// page's `return_to`, a language switch): `…/switch?to=https://client.example.org/cb?error=access_denied&error_description=…&error_uri=https://evil`.
// The redirect has an `error` and no `state`, so the gateway's "error without state" rule wraps
// it for the victim's one bound flow and SIGNS it, with the victim's own state restored. Impact:
// a response the legacy server never gave, with attacker-chosen error_description/error_uri
// (phishing text shown by the client), signed and bound to the victim's real flow, which it
// also kills. SECURITY.md: "An open redirect in the legacy server stays an open redirect for plain
// flows" — here it becomes a signed JARM response.
t.test('an error without state that a legacy open redirect reflects is not signed for the browser\'s bound flow', async (t) => {
  const browser = new Browser()
  const started = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}`)
  await started.text()
  t.ok(browser.cookies.size > 0, 'the flow is bound to the victim\'s browser')
  handlers.current = (request, res) => {
    if (request.path !== '/switch-language') return false
    res.writeHead(302, { location: request.params.get('to')! }).end()
    return true
  }
  const forged = `${REDIRECT_URI}?error=access_denied&error_description=${encodeURIComponent('Your account is locked: call +1-800-SCAM')}&error_uri=${encodeURIComponent('https://evil.example/unlock')}`
  const before = signed()
  const response = await browser.get(`${stack.gatewayUrl}/switch-language?to=${encodeURIComponent(forged)}`)
  await response.text()
  t.equal(signed(), before, 'nothing is signed for a redirect the attacker composed')
  t.notMatch(response.headers.get('location') ?? '', /response=/, 'no JARM response is delivered')
})

// ---------------------------------------------------------------------------------------------
// Secrets in logs (guarantee 10)
// ---------------------------------------------------------------------------------------------

// Severity: low. Attack: a request target the gateway refuses (`invalid_request_target`) is logged
// with `path` = the raw target up to `?`: userinfo and a fragment stay in it. `GET
// http://alice:s3cret@host/… ` logs the password; `GET /cb#access_token=…` logs the token.
// Impact: credentials in logs, against "Logs carry no secrets … never a token".
t.test('a refused request target never logs its userinfo or fragment', async (t) => {
  const host = new URL(stack.gatewayUrl).host
  await rawRequest(stack.gatewayUrl, `GET http://alice:S3CRET-PASSWORD@${host}/login HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  await rawRequest(stack.gatewayUrl, `GET /cb#access_token=LEAKED-TOKEN HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const text = JSON.stringify(stack.logs)
  t.notOk(text.includes('S3CRET-PASSWORD'), 'no password in the logs')
  t.notOk(text.includes('LEAKED-TOKEN'), 'no token in the logs')
})

// ---------------------------------------------------------------------------------------------
// More ways around guarantee 6 and the forwarding-header rule
// ---------------------------------------------------------------------------------------------

// Severity: medium. Attack: request the authorization endpoint with a format suffix:
// `/authorize.json?…response_mode=query.jwt&state=…`. Rails routes (Doorkeeper: `/oauth/authorize(.:format)`)
// and Spring MVC's suffix pattern match (default up to Spring 5.2, the era of Spring Security
// OAuth's `/oauth/authorize`) route it to the authorization endpoint; the gateway's canonical path
// keeps the suffix and lets the request through unrewritten. Impact: guarantee 6 broken for
// exactly the legacy servers the gateway exists for; the client's own mode and state reach them.
t.test('an authorization endpoint spelled with a format suffix (.json, .html) is rewritten too', async (t) => {
  for (const suffix of ['.json', '.html', '.do']) {
    const before = stack.received.length
    const response = await fetch(`${stack.gatewayUrl}${AUTHORIZATION_PATH}${suffix}?${query({ response_mode: 'query.jwt' })}`, { redirect: 'manual' })
    await response.arrayBuffer()
    const reached = stack.received.slice(before)
    t.notOk(reached.some((r) => r.params.get('response_mode') === 'query.jwt' || r.params.get('state') === 'client-state'), `${AUTHORIZATION_PATH}${suffix}: rewritten or refused (status ${response.status})`)
  }
})

// Severity: medium. Attack: a request whose target is a harmless path (`/static/x?…response_mode=query.jwt&state=…`)
// with `X-Original-URL: /authorize` or `X-Rewrite-URL: /authorize?…`. IIS / ASP.NET URL Rewrite,
// older Symfony (CVE-2018-14773) and several Java rewrite filters route on these headers. The
// gateway routes on the target only and forwards the headers untouched. Impact: the JWT-mode
// request reaches the legacy server's authorization endpoint unrewritten (guarantee 6).
t.test('client-sent URL-override headers (X-Original-URL, X-Rewrite-URL) never reach the legacy server', async (t) => {
  const before = stack.received.length
  const response = await fetch(`${stack.gatewayUrl}/static/app.css?${query({ response_mode: 'query.jwt' })}`, {
    headers: { 'x-original-url': `${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}`, 'x-rewrite-url': `${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}` },
    redirect: 'manual',
  })
  await response.arrayBuffer()
  const forwarded = stack.received.slice(before)
  t.notOk(forwarded.some((r) => r.headers['x-original-url'] !== undefined || r.headers['x-rewrite-url'] !== undefined), 'dropped like X-Forwarded-*')
})

// Severity: low/medium. Attack: SECURITY.md promises "client-sent forwarding headers are dropped,
// so a client cannot steer the URLs a legacy server builds from them", but only `Forwarded` and six
// `X-Forwarded-*` names are. Rack (Doorkeeper) prefers `X-Forwarded-Scheme` over the gateway's own
// `X-Forwarded-Proto` and honours `X-Forwarded-Ssl: on`; Vert.x/Quarkus read `X-Forwarded-Ssl`;
// `X-Original-Host`, `X-Host`, `X-Forwarded-Server` are read by others. Impact: a client steers
// the scheme/host of the URLs the legacy server builds (discovery, redirects, `iss`), the cache
// poisoning vector the review closed for Host and X-Forwarded-Host.
t.test('every client-sent forwarding header is dropped, not only X-Forwarded-{For,Host,Proto,Port,Prefix}', async (t) => {
  const names = ['x-forwarded-scheme', 'x-forwarded-ssl', 'front-end-https', 'x-original-host', 'x-host', 'x-forwarded-server', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-forwarded-uri', 'x-url-scheme']
  const before = stack.received.length
  const headers: Record<string, string> = {}
  for (const name of names) headers[name] = name.includes('ssl') || name.includes('https') ? 'on' : name.includes('scheme') ? 'https' : 'evil.example'
  const response = await fetch(`${stack.gatewayUrl}/login`, { headers })
  await response.arrayBuffer()
  const seen = stack.received.slice(before).flatMap((r) => names.filter((name) => r.headers[name] !== undefined))
  t.same(seen, [], 'none reaches the legacy server')
})

// Severity: low. Attack (legacy side): a redirect to the redirect_uri carrying `state` twice,
// a non-sealed one first (`?code=X&state=&state=jg1.…`, as a server that appends its state to a
// query it copied does). The gateway reads only the first `state`, finds no sealed flow and
// passes the plain code on; claims building would have refused a repeated `state`. Impact: a
// plain code of a sealed flow travels unsigned.
t.test('a redirect with a plain state before the sealed one fails closed', async (t) => {
  answerAtOnce((sealed, res) => {
    res.writeHead(302, { location: `${REDIRECT_URI}?code=PLAIN-CODE-TWO-STATES&state=&state=${encodeURIComponent(sealed)}` }).end()
  })
  const response = await new Browser().get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })}`)
  await response.text()
  t.notMatch(response.headers.get('location') ?? '', /PLAIN-CODE-TWO-STATES/, 'the plain code never reaches the browser')
})

// ---------------------------------------------------------------------------------------------
// Hangs (guarantee 9)
// ---------------------------------------------------------------------------------------------

// Severity: low/medium. Attack (legacy side): the legacy server answers an ordinary request with
// `101 Switching Protocols` (a misconfigured WebSocket or h2c front, a broken keep-alive socket
// reused after an upgrade) and then closes. The gateway neither answers nor closes the client's
// connection: it hangs (observed past 20 s with upstream.timeout_ms 1500), the request is no
// longer counted in flight, and the server's close waits on it. Impact: guarantee 9 ("the client
// connection is ended rather than left hanging", "an upstream that ... resets ... ends in a
// 502/504") broken; every such answer leaks a client connection.
t.test('a 101 answer to a request that asked for no upgrade ends in a 502, not a hang', async (t) => {
  const hanging = await startFakeStack({
    config: { upstream: { timeout_ms: 1500 } },
    handler: (_request, res) => {
      res.socket!.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
      setTimeout(() => res.socket?.destroy(), 200)
    },
  })
  // Not awaited: closing the gateway waits on the very connection that hangs.
  t.teardown(() => { void hanging.close() })
  const host = new URL(hanging.gatewayUrl).host
  const reply = await rawRequest(hanging.gatewayUrl, `GET /login HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 5000)
  t.ok(reply.answered, 'answered or closed within 5 s')
  t.equal(reply.status, 502, 'upstream_bad_response')
})

// Severity: medium. Attack ("cookie bomb", third party): each authorization request with a JWT
// mode sets a binding cookie holding the whole sealed state (up to ~4 KB; a client state of ~2.9 KB
// is accepted), kept for state.ttl_seconds (30 min) and cleared only when its flow is answered.
// An attacker page makes the victim's browser start a handful of flows it never finishes (links,
// window.open, or cross-site iframes over HTTPS where the cookie is SameSite=None); from then on
// every request of that browser to the identity server carries > 16 KiB of Cookie and Node answers
// 431 to all of them: the victim cannot sign in anywhere behind the gateway for 30 minutes. The
// same happens to a user with several sign-ins open. Impact: DoS of the IdP per browser;
// guarantee 9 ("bounded work, defined answers") and the binding design leave it unbounded.
t.test('flows started and abandoned in one browser never lock it out of the identity server (cookie bomb)', async (t) => {
  const browser = new Browser()
  for (let i = 0; i < 6; i++) {
    const response = await browser.get(`${stack.gatewayUrl}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt', state: `${i}`.padEnd(2880, 'x') })}`)
    await response.arrayBuffer()
    if (response.status !== 200) t.comment(`flow ${i} answered ${response.status}`)
  }
  const cookieBytes = [...browser.cookies].reduce((sum, [n, v]) => sum + n.length + v.length + 3, 0)
  t.comment(`the browser now holds ${browser.cookies.size} binding cookies, ${cookieBytes} bytes`)
  // What a real browser sends beside the cookies (Chrome's navigation headers, ~700 bytes).
  const chrome = {
    'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
    'accept-language': 'en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7',
    'sec-ch-ua': '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
    'sec-ch-ua-mobile': '?0',
    'sec-ch-ua-platform': '"Windows"',
    'sec-fetch-dest': 'document',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-site': 'cross-site',
    'sec-fetch-user': '?1',
    'upgrade-insecure-requests': '1',
    referer: 'https://client.example.org/some/page/that/started/the/sign-in?with=a&query=string',
  }
  const after = await browser.get(`${stack.gatewayUrl}/login`, { headers: chrome })
  await after.arrayBuffer()
  t.not(after.status, 431, 'the browser can still reach the identity server')
})

// Severity: medium. Attack: an origin-form target that starts with two slashes and an authority-
// looking first segment: `GET //gateway-host/authorize?…response_mode=query.jwt&state=… HTTP/1.1`.
// The gateway's canonical path drops the empty segment and compares `/gateway-host/authorize`
// with `/authorize`: no match, so the request passes unrewritten. A legacy server that reads its
// target with the WHATWG URL parser against a base (`new URL(req.url, 'http://localhost')`, common
// in Node servers, and exactly what this repository's own fake legacy server does) reads `//host`
// as an authority and routes `/authorize` with the client's JWT mode and own state. Impact:
// guarantee 6 broken (the README names `//auth` as a spelling it covers).
t.test('a request target //host/authorize (read as authority + path by WHATWG-URL servers) is rewritten', async (t) => {
  const host = new URL(stack.gatewayUrl).host
  const before = stack.received.length
  const reply = await rawRequest(stack.gatewayUrl, `GET //${host}${AUTHORIZATION_PATH}?${query({ response_mode: 'query.jwt' })} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  const reached = stack.received.slice(before).filter((r) => r.path === AUTHORIZATION_PATH)
  t.ok(reached.length > 0 || reply.status! >= 400, 'precondition: the legacy server routed it to its authorization endpoint (or it was refused)')
  t.notOk(reached.some((r) => r.params.get('response_mode') === 'query.jwt' || r.params.get('state') === 'client-state'), `the legacy server never reads the client's JWT mode and own state (status ${reply.status})`)
})
