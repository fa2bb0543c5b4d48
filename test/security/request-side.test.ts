// Security review, request side, against the real legacy server (oidc-provider, JARM off): a JWT-mode
// request can never reach it unrewritten (path spellings, HEAD, parameter pollution), header and
// CRLF injection through every parameter goes nowhere, oversize input gets a defined answer.
import t from 'tap'
import { decodeJwt } from 'jose'
import { rawRequest } from '../helpers/raw-http.js'
import { authorizationRequest, discover } from '../helpers/judge.js'
import { startStack } from '../helpers/stack.js'

const stack = await startStack()
t.teardown(() => stack.close())
const as = await discover(stack.issuer)

/** Where oidc-provider sends the browser for this request, through the gateway. */
async function firstHop (url: URL, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', ...init })
}

t.test('every path spelling oidc-provider routes to its authorization endpoint is rewritten (none leaks a plain answer)', async (t) => {
  for (const spelling of ['/auth', '/auth/', '//auth', '/AUTH', '/Auth/']) {
    const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
    const url = new URL(`${stack.gatewayUrl}${spelling}${request.url.search}`)
    const response = await firstHop(url)
    const location = response.headers.get('location') ?? ''
    // Rewritten: oidc-provider accepts the plain mode and goes on to its login page. Not rewritten:
    // it refuses the unknown query.jwt straight to the client, in plain text.
    t.notMatch(location, /unsupported_response_mode/, `${spelling}: the legacy server never saw query.jwt`)
    // A target that begins with `//` is refused outright (a URL-parsing server reads an authority there).
    if (spelling.startsWith('//')) t.equal(response.status, 400, `${spelling}: refused as invalid_request_target`)
    else t.match(location, /\/interaction\//, `${spelling}: on to the login page`)
  }
  const head = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const response = await firstHop(head.url, { method: 'HEAD' })
  t.notMatch(response.headers.get('location') ?? '', /unsupported_response_mode/, 'HEAD is rewritten as GET is')
})

t.test('parameter pollution: repeats, query plus body, empty twins', async (t) => {
  const base = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const cases: Array<[string, (url: URL) => URL]> = [
    ['response_mode twice, same value', (u) => { u.searchParams.append('response_mode', 'query.jwt'); return u }],
    ['redirect_uri twice', (u) => { u.searchParams.append('redirect_uri', 'https://evil.example/cb'); return u }],
    ['client_id twice', (u) => { u.searchParams.append('client_id', 'app2'); return u }],
    ['an empty state twin', (u) => { u.searchParams.append('state', ''); return u }],
    ['response_type twice', (u) => { u.searchParams.append('response_type', 'code'); return u }],
  ]
  for (const [name, pollute] of cases) {
    const response = await firstHop(pollute(new URL(base.url)))
    t.equal(response.status, 400, name)
    t.equal(response.headers.get('location'), null, `${name}: no redirect`)
    t.match(await response.text(), /must not be sent more than once/, name)
  }
  // The same parameter in the query and in a POSTed body is a repeat too.
  const body = new URLSearchParams(base.url.search)
  const url = new URL(base.url.pathname, base.url)
  url.searchParams.set('redirect_uri', 'https://evil.example/cb')
  const posted = await firstHop(url, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(posted.status, 400)
  t.match(await posted.text(), /parameter redirect_uri must not be sent more than once/)
  // A JWT mode hidden in the body of a POST that also has a plain mode in the query.
  const hidden = new URL(base.url.pathname, base.url)
  hidden.searchParams.set('response_mode', 'query')
  const split = await firstHop(hidden, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } })
  t.equal(split.status, 400)
  t.match(await split.text(), /parameter response_mode must not be sent more than once/)
})

t.test('CRLF and header injection through every parameter, GET and POST: no injected header, no 500', async (t) => {
  const payloads = ['\r\nX-Injected: 1', '%0d%0aX-Injected: 1', '\nX-Injected: 1', '\r\n\r\n<html>injected', '"><script>alert(1)</script>', '\u0000']
  const names = ['client_id', 'state', 'scope', 'nonce', 'response_type', 'redirect_uri', 'code_challenge', 'login_hint', 'response_mode', 'x-extra']
  let sent = 0
  for (const name of names) {
    for (const payload of payloads) {
      for (const method of ['GET', 'POST'] as const) {
        const request = await authorizationRequest(as, { response_mode: 'form_post.jwt' })
        const parameters = new URLSearchParams(request.url.search)
        parameters.set(name, (parameters.get(name) ?? '') + payload)
        const url = method === 'GET' ? new URL(`${request.url.pathname}?${parameters}`, request.url) : new URL(request.url.pathname, request.url)
        const response = await firstHop(url, method === 'GET' ? {} : { method, body: parameters.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
        sent++
        const label = `${method} ${name} ${encodeURIComponent(payload)}`
        t.equal(response.headers.get('x-injected'), null, `${label}: no injected header`)
        t.ok(response.status < 500, `${label}: answered ${response.status}`)
        const text = await response.text()
        t.notMatch(text, /<script>alert\(1\)<\/script>/, `${label}: nothing rendered raw`)
      }
    }
  }
  t.comment(`${sent} injection requests`)
  // Raw bytes no client library would send: CR LF in the request target and in a header value.
  const rawTarget = await rawRequest(stack.gatewayUrl, `GET /auth?client_id=app1\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.equal(rawTarget.status, 400, 'Node refuses a request line with CR LF')
  const rawHeader = await rawRequest(stack.gatewayUrl, `GET /auth?client_id=app1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rX-Injected: 1\r\n\r\n`)
  t.equal(rawHeader.status, 400, 'Node refuses a bare CR in a header')
  const requestId = await fetch(`${stack.gatewayUrl}/nothing`, { headers: { 'x-request-id': '<script>x</script>' } })
  t.match(requestId.headers.get('x-request-id'), /^[0-9a-f-]{36}$/, 'a hostile request id is replaced, not echoed')
})

t.test('oversize input gets a defined answer, never a crash', async (t) => {
  const big = 'a'.repeat(70_000)
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const body = new URLSearchParams(request.url.search)
  body.set('login_hint', big)
  const posted = await firstHop(new URL(request.url.pathname, request.url), { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(posted.status, 413)
  t.match(await posted.text(), /larger than 65536 bytes/)
  const longQuery = await rawRequest(stack.gatewayUrl, `GET /auth?${'x='.padEnd(20_000, 'y')} HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.equal(longQuery.status, 431, 'a request head over Node\'s 16 KiB limit')
  const manyHeaders = await rawRequest(stack.gatewayUrl, `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `x-h${i}: 1\r\n`).join('')}\r\n`)
  t.equal(manyHeaders.status, 431)
  const manyParameters = await authorizationRequest(as, { response_mode: 'query.jwt' })
  const params = new URLSearchParams(manyParameters.url.search)
  for (let i = 0; i < 2000; i++) params.append(`p${i}`, 'v')
  const many = await firstHop(new URL(manyParameters.url.pathname, manyParameters.url), { method: 'POST', body: params.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.ok(many.status < 500, `2000 parameters: ${many.status}`)
  // A body that says it is small and is not, or says it is large and stops: answered, and the gateway carries on.
  const lying = await rawRequest(stack.gatewayUrl, `POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nresponse_mode=query.jwt`, 1500)
  t.notOk(lying.status === 500, 'a truncated body is not a 500')
  const after = await authorizationRequest(as, { response_mode: 'query.jwt' })
  t.match((await firstHop(after.url)).headers.get('location'), /\/interaction\//, 'still serving')
})

t.test('a request parameter can never choose the signing algorithm', async (t) => {
  const { BrowserAgent } = await import('../helpers/browser-agent.js')
  const request = await authorizationRequest(as, { response_mode: 'query.jwt', authorization_signed_response_alg: 'none', alg: 'HS256', kid: 'x' })
  const arrival = await new BrowserAgent().run(request.url)
  t.equal(arrival.kind, 'redirect')
  if (arrival.kind !== 'redirect') return
  const jwt = arrival.url.searchParams.get('response')!
  const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>
  t.same(Object.keys(header).sort(), ['alg', 'kid'], 'only alg and kid: no jku, jwk, x5u, crit')
  t.equal(header['alg'], 'ES256', 'the configured algorithm')
  t.equal(decodeJwt(jwt).aud, 'app1')
})
