// Request smuggling through the gateway, from a raw socket, against a legacy server whose socket
// bytes are recorded. Every request must reach the legacy server framed as one message (RFC 9112
// §6-§7: a proxy re-frames what it forwards), or be refused; the Connection header cannot remove
// framing or routing fields (RFC 9110 §7.6.1); and the legacy server's answers reach the client
// framed as they were sent, or not at all.
import t, { type Test } from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { authorizationUrl, eventually, startFakeStack, type FakeStack, type UpstreamRequest } from '../helpers/fake-legacy-server.js'
import { rawRequest } from '../helpers/raw-http.js'

/** A whole authorization request in JWT mode, with a forwarded Host the gateway must never let through. */
const SMUGGLED = 'GET /authorize?client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&state=mine&response_mode=query.jwt HTTP/1.1\r\n' +
  'Host: legacy\r\nX-Forwarded-Host: evil.example\r\n\r\n'
const chunk = (body: string): string => `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`

/** Answers every request with its own method and path, the /authorize ones after a delay (a slow smuggled request). */
function echo (request: UpstreamRequest, res: ServerResponse, _req: IncomingMessage): void {
  const answer = (): void => { res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer to ${request.method} ${request.path}`) }
  if (request.path === '/authorize') setTimeout(answer, 150)
  else answer()
}

async function stack (t: Test, handler = echo): Promise<FakeStack> {
  // gw.example is a public origin, so its Host goes on as sent (any other is replaced by the issuer's).
  const fake = await startFakeStack({ handler, recordBytes: true, config: { public_origins: ['http://gw.example'] } })
  t.teardown(() => fake.close())
  return fake
}

/** The requests the legacy server read, less the gateway's own discovery and JWKS look-ups. */
const seen = (fake: FakeStack): string[] => fake.received.map((r) => `${r.method} ${r.path}`)

t.test('a chunked GET body is forwarded chunked: the smuggled request stays a body', async (t) => {
  const fake = await stack(t)
  const reply = await rawRequest(fake.gatewayUrl, `GET /static HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(SMUGGLED)}`)
  t.equal(reply.status, 200)
  t.equal(reply.body.split('\r\n').find((line) => line.startsWith('answer')), 'answer to GET /static')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(seen(fake), ['GET /static'], 'the legacy server read one request, never the smuggled /authorize')
  t.equal(fake.received[0]!.body.toString('latin1'), SMUGGLED, 'the body arrived whole, as a body')
  const wire = fake.wire.join('')
  t.match(wire, /^GET \/static HTTP\/1\.1\r\n(?:[^\r]+\r\n)*transfer-encoding: chunked\r\n/im, 're-framed as chunked on the upstream connection')
  t.notOk(wire.includes(`\r\n\r\n${SMUGGLED}`), 'the smuggled request never sits unframed on the wire')
})

t.test('DELETE and OPTIONS bodies too: http-proxy\'s Content-Length: 0 for them is not applied', async (t) => {
  const fake = await stack(t)
  for (const method of ['DELETE', 'OPTIONS']) {
    const reply = await rawRequest(fake.gatewayUrl, `${method} /static HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(SMUGGLED)}`)
    t.equal(reply.status, 200, method)
  }
  const empty = await rawRequest(fake.gatewayUrl, 'DELETE /empty HTTP/1.1\r\nHost: gw\r\n\r\n')
  t.equal(empty.status, 200)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(seen(fake), ['DELETE /static', 'OPTIONS /static', 'DELETE /empty'])
  t.same(fake.received.map((r) => r.body.toString('latin1')), [SMUGGLED, SMUGGLED, ''])
  t.notMatch(fake.wire.join(''), /content-length: 0/i)
})

t.test('the next user on the pooled upstream socket gets its own answer', async (t) => {
  const fake = await stack(t)
  const attack = await rawRequest(fake.gatewayUrl, `GET /static HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(SMUGGLED)}`)
  t.equal(attack.status, 200)
  // At once, while a smuggled request would still be waiting for its slow answer on that socket.
  const victim = await fetch(`${fake.gatewayUrl}/victim`)
  t.equal(await victim.text(), 'answer to GET /victim')
  // (The connection may have carried the discovery request first: the gateway's own requests share the pool.)
  const connection = fake.wire.find((bytes) => /^GET \/static /m.test(bytes))!
  t.match(connection, /\r\nGET \/victim HTTP\/1\.1\r\n/, 'the victim\'s request took the pooled connection the attack used')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(seen(fake), ['GET /static', 'GET /victim'])
})

t.test('Connection cannot remove Content-Length, Host or Content-Type (RFC 9110 §7.6.1): the option is ignored', async (t) => {
  const fake = await stack(t)
  const withLength = await rawRequest(fake.gatewayUrl, `GET /static HTTP/1.1\r\nHost: gw\r\nConnection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`)
  t.equal(withLength.status, 200)
  t.equal(fake.received[0]!.headers['content-length'], String(SMUGGLED.length), 'the length reached the legacy server')
  const withHost = await rawRequest(fake.gatewayUrl, 'GET /static HTTP/1.1\r\nHost: gw.example\r\nConnection: host, keep-alive\r\n\r\n')
  t.equal(withHost.status, 200)
  t.equal(fake.received[1]!.headers.host, 'gw.example')
  const form = 'client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&state=mine&response_mode=query.jwt'
  const post = await rawRequest(fake.gatewayUrl, `POST /authorize HTTP/1.1\r\nHost: gw\r\nConnection: Content-Type\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`)
  t.equal(post.status, 200)
  const authorize = fake.received.find((r) => r.path === '/authorize')!
  t.equal(authorize.params.get('response_mode'), 'query', 'read and rewritten by the gateway, as the legacy server reads it')
  t.match(authorize.params.get('state'), /^jg1\./)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(seen(fake), ['GET /static', 'GET /static', 'POST /authorize'])
  t.equal(fake.received.filter((r) => r.headers['x-forwarded-host'] === 'evil.example').length, 0)
})

t.test('a transfer coding the gateway does not implement is 501 and never forwarded (RFC 9112 §6.1)', async (t) => {
  const fake = await stack(t)
  for (const coding of ['gzip, chunked', 'deflate,chunked', 'x-custom, chunked']) {
    const reply = await rawRequest(fake.gatewayUrl, `POST /static HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: ${coding}\r\n\r\n${chunk(SMUGGLED)}`)
    t.equal(reply.status, 501, coding)
    t.match(reply.body, /transfer_coding_not_implemented/)
    t.match(reply.headers.find(([name]) => name === 'connection')?.[1], /close/i, 'the rest of the connection is not read as requests')
  }
  const plain = await rawRequest(fake.gatewayUrl, `POST /static HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: Chunked\r\n\r\n${chunk('a=b')}`)
  t.equal(plain.status, 200, 'chunked in any case is understood')
  t.same(seen(fake), ['POST /static'])
  t.equal(fake.received[0]!.body.toString(), 'a=b')
})

t.test('a rewritten body is sent with its own length, whatever framing the client used', async (t) => {
  const fake = await stack(t, (request, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer to ${request.method} ${request.path}`) })
  const form = 'client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&state=mine&response_mode=query.jwt'
  const reply = await rawRequest(fake.gatewayUrl, `POST /authorize HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(form)}`)
  t.equal(reply.status, 200)
  const body = fake.received[0]!.body.toString()
  t.match(body, /response_mode=query&state=jg1\./)
  t.equal(fake.received[0]!.headers['content-length'], String(Buffer.byteLength(body)))
  t.equal(fake.received[0]!.headers['transfer-encoding'], undefined)
  t.equal(fake.wire.join('').match(/transfer-encoding/gi), null, 'no transfer coding beside the length on the wire')
})

t.test('answers: one framing per message, whatever the legacy server sends', async (t) => {
  const raw: Record<string, string> = {
    '/both': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    '/gzip-coded': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    '/close-delimited-coding': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\nhello',
    '/named-length': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: content-length, content-type\r\nContent-Length: 5\r\n\r\nhello',
  }
  const fake = await stack(t, (request, _res, req) => { req.socket.end(raw[request.path]) })
  for (const path of ['/both', '/gzip-coded', '/close-delimited-coding']) {
    const reply = await rawRequest(fake.gatewayUrl, `GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`)
    t.equal(reply.status, 502, path)
    t.match(reply.body, /upstream_bad_response/, path)
  }
  const named = await rawRequest(fake.gatewayUrl, 'GET /named-length HTTP/1.1\r\nHost: gw\r\n\r\n')
  t.equal(named.status, 200)
  t.same(named.headers.filter(([name]) => name === 'content-length' || name === 'content-type' || name === 'transfer-encoding'), [['content-type', 'text/plain'], ['content-length', '5']], 'Connection cannot remove them from an answer either')
  t.equal(named.body, 'hello')
  await eventually(() => fake.logs.filter((line) => line['code'] === 'upstream_bad_response').length === 3)
})

t.test('a plain passthrough authorization request is unaffected', async (t) => {
  const fake = await stack(t, (request, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer to ${request.method} ${request.path}`) })
  const response = await fetch(authorizationUrl(fake, { response_mode: 'query' }))
  t.equal(await response.text(), 'answer to GET /authorize')
  t.match(fake.wire.join(''), /^GET \/authorize\?/m)
  t.notMatch(fake.wire.join(''), /transfer-encoding|content-length/i, 'a request without a body goes without framing fields')
})
