// The gateway's own edges, against small local fakes: a legacy server that is down, slow, or
// answers in shapes and faults the real one does not produce.
import t from 'tap'
import { connect } from 'node:net'
import { request as httpRequest } from 'node:http'
import { gzipSync } from 'node:zlib'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve } from '../../src/server.js'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { authorizationUrl, CLIENT_STATE, startFakeStack, type FakeStack, type FakeStackOptions } from '../helpers/fake-legacy-server.js'
import { STATE_SECRET, TEST_KEYS, TEST_PUBLIC_JWKS } from '../helpers/stack.js'

const jwks = createLocalJWKSet(TEST_PUBLIC_JWKS)
const formPost = (action: string, fields: Record<string, string>): string =>
  `<html><body><form method="post" action="${action}">${Object.entries(fields).map(([n, v]) => `<input type="hidden" name="${n}" value="${v}">`).join('')}</form></body></html>`

type FakeHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

/** The fake legacy server, its handler given the raw request and body these tests look at. */
function fakeWith (handler: FakeHandler, config: Record<string, unknown> = {}, options: Omit<FakeStackOptions, 'handler' | 'config'> = {}): Promise<FakeStack> {
  return startFakeStack({ handler: (request, res, req) => handler(req, res, request.body), config, ...options })
}

/** The legacy server's authorization endpoint answers with `answer(sealedState)`. */
function authorizeWith (answer: (state: string, res: ServerResponse) => void): FakeHandler {
  return (req, res) => {
    const url = new URL(req.url!, 'http://fake')
    if (url.pathname === '/authorize') answer(url.searchParams.get('state')!, res)
    else res.writeHead(404).end()
  }
}

t.test('the legacy server is down: plain requests get 502, anything that may ask for JARM 503', async (t) => {
  const server = await listen('127.0.0.1', 0)
  const closed = await listen('127.0.0.1', 0)
  const deadUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const running = serve(server, await buildConfig({ upstream: { url: deadUrl, timeout_ms: 2000 }, keys: TEST_KEYS, state: { secrets: [STATE_SECRET] } }, '.'), createLogger({ level: 'silent' }))
  t.teardown(() => running.close())
  await t.rejects(running.gateway.start(), /no discovery document found/)
  const plain = await fetch(`${running.url}/static/app.css`)
  t.equal(plain.status, 502)
  t.match(await plain.text(), /upstream_unreachable/)
  t.match(plain.headers.get('x-request-id'), /^[\w-]{36}$/)
  for (const [path, init] of [['/.well-known/openid-configuration', {}], ['/authorize?response_mode=query.jwt', {}], ['/authorize', { method: 'POST', body: 'a=b' }]] as const) {
    const response = await fetch(`${running.url}${path}`, init)
    t.equal(response.status, 503, path)
    t.match(await response.text(), /metadata_unavailable/)
  }
})

t.test('a gzip form_post page is captured; a plain page is passed on byte for byte', async (t) => {
  const fake = await fakeWith(authorizeWith((state, res) => {
    res.writeHead(200, { 'content-type': 'text/html;charset=utf-8', 'content-encoding': 'gzip' })
    res.end(gzipSync(formPost('https://client.example.org/cb', { code: 'the-code', state })))
  }), { upstream: { response_mode: 'form_post' } })
  t.teardown(() => fake.close())
  const response = await fetch(authorizationUrl(fake, { response_mode: 'query.jwt' }), { redirect: 'manual' })
  t.equal(response.status, 303)
  const location = new URL(response.headers.get('location')!)
  const { payload } = await jwtVerify(location.searchParams.get('response')!, jwks)
  t.equal(payload['code'], 'the-code')
  t.equal(payload['state'], CLIENT_STATE)
})

t.test('pages carrying a sealed flow: captured only for the bound redirect_uri, too large fails closed', async (t) => {
  let page = (state: string): string => formPost('https://client.example.org/cb', { code: 'c', state })
  const fake = await fakeWith(authorizeWith((state, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(page(state)) }), { limits: { captured_page_bytes: 4096 } })
  t.teardown(() => fake.close())
  const url = authorizationUrl(fake, { response_mode: 'form_post.jwt' })

  page = (state) => formPost('https://elsewhere.example/cb', { state })
  const elsewhere = await fetch(url, { redirect: 'manual' })
  t.equal(elsewhere.status, 200)
  t.match(await elsewhere.text(), /action="https:\/\/elsewhere\.example\/cb"/, 'not this flow\'s response, and no credential: passed on untouched')

  page = (state) => formPost('https://elsewhere.example/cb', { code: 'c', state })
  const misdirected = await fetch(url, { redirect: 'manual' })
  t.equal(misdirected.status, 502, 'a code of the flow posted elsewhere fails closed')

  page = (state) => formPost('https://client.example.org/cb', { code: 'c', state }) + `<!-- ${'x'.repeat(5000)} -->`
  const large = await fetch(url, { redirect: 'manual' })
  t.equal(large.status, 502)
  t.match(await large.text(), /capture_too_large/)

  page = () => `<html>${'y'.repeat(5000)}</html>`
  const duringFlow = await fetch(url, { redirect: 'manual' })
  t.equal(duringFlow.status, 502, 'a large page answering the request that started a flow fails closed: its form could lie past the limit')
  const plainLarge = await fetch(authorizationUrl(fake, { response_mode: 'form_post' }), { redirect: 'manual' })
  t.equal(plainLarge.status, 200)
  t.equal((await plainLarge.text()).length, 5013, 'a large page without a flow streams through whole')

  page = (state) => formPost('https://client.example.org/cb', { code: 'c&amp;d', state })
  const captured = await fetch(url, { redirect: 'manual' })
  t.equal(captured.status, 200)
  t.match(captured.headers.get('content-type'), /^text\/html/)
  const value = /name="response" value="([^"]+)"/.exec(await captured.text())![1]!
  t.equal((await jwtVerify(value, jwks)).payload['code'], 'c&d')
})

t.test('a page in an encoding the gateway did not ask for and cannot read fails closed', async (t) => {
  const fake = await fakeWith((_req, res) => { res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'compress' }).end('opaque jg1.') })
  t.teardown(() => fake.close())
  const response = await fetch(`${fake.gatewayUrl}/odd`)
  t.equal(response.status, 502, 'it might carry a sealed flow: never passed on unread')
  t.match(await response.text(), /content-encoding compress, which the gateway did not ask for/)
})

t.test('discovery and JWKS: rewritten when JSON, passed on when not; kid collisions logged', async (t) => {
  let jwksBody = JSON.stringify({ keys: [{ kty: 'oct', kid: TEST_KEYS.keys[0]!.kid }] })
  const fake = await fakeWith((req, res) => {
    if (req.url === '/.well-known/oauth-authorization-server') res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"issuer":"x","response_modes_supported":["query"]}'))
    else res.writeHead(200, { 'content-type': 'application/json' }).end('[1,2]')
  }, {}, {
    jwks: (_json, res) => {
      res.writeHead(200, { 'content-type': 'application/json', etag: '"x"' }).end(jwksBody)
      return true
    },
  })
  t.teardown(() => fake.close())
  const merged = await (await fetch(`${fake.gatewayUrl}/jwks`)).json() as { keys: unknown[] }
  t.equal(merged.keys.length, 1 + TEST_KEYS.keys.length)
  t.ok(fake.logs.some((line) => line['event'] === 'jwks.kid_collision'))
  jwksBody = 'not json'
  t.equal(await (await fetch(`${fake.gatewayUrl}/jwks`)).text(), 'not json')
  const rfc8414 = await fetch(`${fake.gatewayUrl}/.well-known/oauth-authorization-server`)
  t.equal(rfc8414.headers.get('content-encoding'), null, 'decoded and served as plain JSON')
  t.same((await rfc8414.json() as { response_modes_supported: string[] }).response_modes_supported, ['query', 'query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'])
  t.equal(await (await fetch(`${fake.gatewayUrl}/.well-known/openid-configuration/other`)).text(), '[1,2]', 'a JSON array is not a discovery document')
})

t.test('headers to the legacy server: hop-by-hop dropped, X-Forwarded-* set by the gateway, Trailer harmless', async (t) => {
  let seen: Record<string, string | string[] | undefined> = {}
  const fake = await fakeWith((req, res) => { seen = req.headers; res.writeHead(200, { connection: 'x-private', 'x-private': '1', 'keep-alive': 'timeout=5', 'x-kept': 'yes' }).end('ok') })
  t.teardown(() => fake.close())
  const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${fake.gatewayUrl}/echo`, {
      method: 'POST',
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-for': '6.6.6.6', forwarded: 'host=evil', connection: 'x-secret', 'x-secret': 's', te: 'trailers', trailer: 'x-checksum', 'proxy-authorization': 'Basic x', 'x-request-id': 'bad id with spaces', 'transfer-encoding': 'chunked' },
    }, resolve)
    req.on('error', reject)
    req.write('body')
    req.addTrailers({ 'x-checksum': 'abc' })
    req.end()
  })
  response.resume()
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-kept'], 'yes')
  t.equal(response.headers['x-private'], undefined, 'a header named by Connection is hop-by-hop')
  t.equal(seen['x-forwarded-host'], new URL(fake.gatewayUrl).host, 'a client cannot steer the Host the legacy server sees')
  t.equal(seen['x-forwarded-for'], '127.0.0.1')
  t.equal(seen['x-forwarded-proto'], 'http')
  t.equal(seen['forwarded'], undefined)
  t.equal(seen['x-secret'], undefined)
  t.equal(seen['proxy-authorization'], undefined)
  t.equal(seen['trailer'], undefined)
  t.equal(seen['host'], new URL(fake.gatewayUrl).host, 'Host preserved')
  t.match(seen['x-request-id'], /^[\w-]{36}$/, 'an invalid incoming request id is replaced')
  const kept = await fetch(`${fake.gatewayUrl}/echo`, { headers: { 'x-request-id': 'trace-123' } })
  t.equal(kept.headers.get('x-request-id'), 'trace-123')
})

t.test('behind a trusted proxy the forwarded headers are kept and extended', async (t) => {
  let seen: Record<string, string | string[] | undefined> = {}
  // The forwarded host must be one of the public origins to be kept: a trusted proxy passes on what the client asked for.
  const fake = await fakeWith((req, res) => { seen = req.headers; res.end('ok') }, { trust_forwarded_headers: true, public_origins: ['https://id.example.com'] })
  t.teardown(() => fake.close())
  await (await fetch(`${fake.gatewayUrl}/x`, { headers: { 'x-forwarded-host': 'id.example.com', 'x-forwarded-for': '10.1.2.3', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' } })).text()
  t.equal(seen['x-forwarded-host'], 'id.example.com')
  t.equal(seen['x-forwarded-for'], '10.1.2.3, 127.0.0.1')
  t.equal(seen['x-forwarded-proto'], 'https')
  t.equal(seen['x-forwarded-port'], '443')
  await (await fetch(`${fake.gatewayUrl}/x`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } })).text()
  t.equal(seen['x-forwarded-host'], new URL(fake.gatewayUrl).host, 'a forwarded host that is no public origin is replaced by the issuer\'s')
  t.equal(seen['host'], new URL(fake.gatewayUrl).host)
})

t.test('a client that goes away cancels the upstream request; a body cut short is not forwarded', async (t) => {
  let upstreamClosed: () => void = () => undefined
  const closed = new Promise<void>((resolve) => { upstreamClosed = resolve })
  const fake = await fakeWith((req) => { req.socket.on('close', upstreamClosed) })
  t.teardown(() => fake.close())
  const controller = new AbortController()
  const pending = fetch(`${fake.gatewayUrl}/long-poll`, { signal: controller.signal }).catch(() => 'aborted')
  await new Promise((resolve) => setTimeout(resolve, 100))
  controller.abort()
  t.equal(await pending, 'aborted')
  await closed
  t.pass('the upstream socket closed')

  const { port } = new URL(fake.gatewayUrl)
  const socket = connect(Number(port), '127.0.0.1')
  socket.write('POST /authorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nresponse_mode=query.jwt')
  await new Promise((resolve) => setTimeout(resolve, 50))
  socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(fake.logs.some((line) => line['code'] === 'request_aborted'), 'logged, nothing forwarded')
})

t.test('POSTed authorization requests: too large is 413, non-form bodies are refused, query moves into the body', async (t) => {
  let received = ''
  const fake = await fakeWith((req, res, body) => {
    received = `${req.method} ${req.url} ${body.toString()}`
    res.writeHead(200).end('ok')
  }, { limits: { authorization_request_bytes: 1024 } })
  t.teardown(() => fake.close())
  const large = await fetch(`${fake.gatewayUrl}/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `a=${'x'.repeat(2000)}` })
  t.equal(large.status, 413)
  t.match(await large.text(), /request_body_too_large/)
  const json = await fetch(`${fake.gatewayUrl}/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
  t.equal(json.status, 415, 'a body the gateway cannot read as parameters never reaches the authorization endpoint')
  t.match(await json.text(), /unsupported_media_type/)
  await (await fetch(`${fake.gatewayUrl}/authorize?x=1`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' })).text()
  t.equal(received, 'POST /authorize?x=1 a=1', 'not a JARM request: body and query untouched')
  await (await fetch(`${fake.gatewayUrl}/authorize?client_id=app1`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body: 'response_type=code&redirect_uri=https%3A%2F%2Fc.example%2Fcb&response_mode=jwt' })).text()
  t.match(received, /^POST \/authorize client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fc\.example%2Fcb&response_mode=query&state=jg1\.[\w-]+$/)
  const repeated = await fetch(`${fake.gatewayUrl}/authorize?client_id=app1`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fc.example%2Fcb&response_mode=jwt' })
  t.equal(repeated.status, 400, 'a parameter in the query and the body is a repeat')
  const head = await fetch(`${fake.gatewayUrl}/page`, { method: 'HEAD' })
  t.equal(head.status, 200)
})

t.test('odd but legal requests and answers', async (t) => {
  const fake = await fakeWith((req, res) => {
    if (req.url === '/corrupt') res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(Buffer.from('not gzip at all'))
    else if (req.url === '/.well-known/openid-configuration/compress') res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'compress' }).end('{}')
    else if (req.url === '/.well-known/openid-configuration/large') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pad: 'x'.repeat(3000) }))
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url} ${req.headers.host ?? 'no host'}`)
  }, { issuer: 'https://public.example', upstream: { discovery_path: '/.well-known/openid-configuration' }, limits: { metadata_bytes: 2048 } })
  t.teardown(() => fake.close())
  t.ok(fake.logs.some((line) => line['event'] === 'metadata.issuer_mismatch'), 'a configured issuer the legacy server does not publish is warned about')
  const discovery = await (await fetch(`${fake.gatewayUrl}/.well-known/openid-configuration`)).json() as { issuer: string }
  t.equal(discovery.issuer, 'https://public.example', 'clients see the configured issuer')

  const corrupt = await new Promise<string>((resolve, reject) => {
    httpRequest(`${fake.gatewayUrl}/corrupt`, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => resolve(text))
    }).on('error', reject).end()
  })
  t.match(corrupt, /capture_failed/, 'an undecodable page fails closed')
  t.equal(await (await fetch(`${fake.gatewayUrl}/.well-known/openid-configuration/compress`)).text(), '{}')
  t.equal((await (await fetch(`${fake.gatewayUrl}/.well-known/openid-configuration/large`)).text()).length, 3010, 'too large to rewrite: passed on whole')
  t.equal(await (await fetch(`${fake.gatewayUrl}/static`, { method: 'POST', body: new Uint8Array([1, 2]) })).text(), 'POST /static public.example', 'a POST without a content type elsewhere streams through (with the issuer\'s Host: the client\'s is not a public origin)')
  t.equal((await fetch(`${fake.gatewayUrl}/authorize`, { method: 'POST', body: new Uint8Array([1, 2]) })).status, 415, 'at the authorization endpoint it is refused')

  const { port } = new URL(fake.gatewayUrl)
  const socket = connect(Number(port), '127.0.0.1')
  socket.write('GET /old HTTP/1.0\r\n\r\n')
  const answer = await new Promise<string>((resolve) => {
    let text = ''
    socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
    socket.on('end', () => resolve(text))
  })
  t.match(answer, /^HTTP\/1\.1 200 OK/)
  t.match(answer, /GET \/old public\.example$/, 'HTTP/1.0 without Host still works (the legacy server sees the issuer\'s host)')
})

t.test('discovery is refreshed in the background; a failed refresh keeps the last document', async (t) => {
  let offset = 0
  let discoveryDown = false
  const fake = await fakeWith((_req, res) => { res.writeHead(500).end('down') }, {}, {
    now: () => Date.now() + offset,
    discovery: (_json, res) => {
      if (!discoveryDown) return false
      res.writeHead(500).end('down')
      return true
    },
  })
  t.teardown(() => fake.close())
  discoveryDown = true
  offset = 6 * 60 * 1000
  const response = await fetch(authorizationUrl(fake), { redirect: 'manual' })
  t.equal(response.status, 500, 'the request still reached the legacy server through the known endpoint')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(fake.logs.some((line) => line['event'] === 'metadata.refresh_failed'), 'the failure is logged')
})

t.test('without discovery, requests that cannot ask for JARM still pass through', async (t) => {
  const fake = await fakeWith((req, res) => { res.writeHead(200, { 'content-type': 'text/css' }).end(`served ${req.url}`) }, {}, {
    // No usable discovery document: the legacy server answers its path like any other.
    discovery: (_json, res, req) => {
      res.writeHead(200, { 'content-type': 'text/css' }).end(`served ${req.url}`)
      return true
    },
  })
  t.teardown(() => fake.close())
  t.equal(await (await fetch(`${fake.gatewayUrl}/static/app.css`)).text(), 'served /static/app.css')
  const jarm = await fetch(authorizationUrl(fake))
  t.equal(jarm.status, 503, 'a JWT-mode request never reaches the legacy server unrewritten')
})
