// What a request asks for comes from its target alone (RFC 9112 §3.2): a JWT-mode request reaches
// the legacy server rewritten whatever form its target takes or whatever its Host holds, and a
// target or Host the gateway cannot read as one request is a plain 400 page.
import t, { type Test } from 'tap'
import { authorizationUrl, startFakeStack, type FakeStack } from '../helpers/fake-legacy-server.js'
import { rawRequest } from '../helpers/raw-http.js'

async function stack (t: Test): Promise<FakeStack> {
  // gw.example (on any port) is a public origin, so its Host goes on as sent; any other is replaced by the issuer's.
  const fake = await startFakeStack({ handler: (request, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer to ${request.method} ${request.path}`) }, recordBytes: true, config: { public_origins: ['http://gw.example', 'http://gw.example:8080', 'https://gw.example'] } })
  t.teardown(() => fake.close())
  return fake
}

const QUERY = 'client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&state=mine&response_mode=query.jwt'

t.test('an absolute-form target is the authorization request it names, its authority the Host', async (t) => {
  const fake = await stack(t)
  for (const prefix of ['http://gw.example', 'HTTP://gw.example:8080', 'https://gw.example']) {
    const reply = await rawRequest(fake.gatewayUrl, `GET ${prefix}/authorize?${QUERY} HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n`)
    t.equal(reply.status, 200, prefix)
  }
  t.equal(fake.received.length, 3)
  for (const request of fake.received) {
    t.equal(request.params.get('response_mode'), 'query', 'rewritten')
    t.match(request.params.get('state'), /^jg1\./)
  }
  t.same(fake.received.map((r) => r.headers.host), ['gw.example', 'gw.example:8080', 'gw.example'], 'RFC 9112 §3.2.2: the target\'s authority replaces Host')
  t.match(fake.wire.join(''), /^GET \/authorize\?/m, 'forwarded in origin-form')
  const bare = await rawRequest(fake.gatewayUrl, 'GET http://gw.example?x=1 HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n')
  t.equal(bare.status, 200)
  t.equal(fake.received.at(-1)!.path, '/', 'an empty path is /')
})

t.test('a Host carrying a query, or two Hosts, is refused: the query is the target\'s alone', async (t) => {
  const fake = await stack(t)
  for (const host of ['gw?x=', 'gw/authorize?x=', 'gw#', 'user@gw', 'gw:99999', 'gw:8o', '0x7f.1', '1.2.3.999', '[::1', '[fe80::1%25eth0]', 'gw%2eexample', '', 'g w']) {
    const reply = await rawRequest(fake.gatewayUrl, `GET /authorize?${QUERY} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    t.equal(reply.status, 400, JSON.stringify(host))
    t.match(reply.body, /invalid_host/)
    t.match(reply.headers.find(([name]) => name === 'content-type')?.[1], /^text\/html/, 'a plain page')
    t.notOk(reply.headers.some(([name]) => name === 'location'), 'never a redirect')
  }
  const twice = await rawRequest(fake.gatewayUrl, 'GET /static HTTP/1.1\r\nHost: gw\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
  t.equal(twice.status, 400)
  t.match(twice.body, /more than one Host/)
  t.equal(fake.received.length, 0, 'nothing reached the legacy server')
  for (const host of ['gw.example', 'GW.Example:8080', '127.0.0.1:80', '[::1]:8080', '[2001:db8::1]']) {
    const reply = await rawRequest(fake.gatewayUrl, `GET /static HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    t.equal(reply.status, 200, host)
  }
  t.ok(fake.logs.some((line) => line['code'] === 'invalid_host' && line['status'] === 400))
  t.notOk(JSON.stringify(fake.logs).includes('response_mode=query.jwt'), 'no query string in the logs')
})

t.test('asterisk-form is for OPTIONS only; other targets the gateway cannot route are refused', async (t) => {
  const fake = await stack(t)
  const options = await rawRequest(fake.gatewayUrl, 'OPTIONS * HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')
  t.equal(options.status, 200)
  t.match(fake.wire.join(''), /^OPTIONS \* HTTP\/1\.1\r\n/m, 'forwarded as asterisk-form, not /*')
  for (const target of ['*', 'ftp://gw/authorize', 'http://user@gw/authorize', 'http:///authorize', `/authorize#?${QUERY}`, 'http://gw/a#b']) {
    const reply = await rawRequest(fake.gatewayUrl, `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`)
    t.equal(reply.status, 400, target)
    t.match(reply.body, /invalid_request_target/, target)
  }
  t.equal(fake.received.length, 1, 'only the OPTIONS reached the legacy server')
})

t.test('an ordinary JWT-mode request is still rewritten', async (t) => {
  const fake = await stack(t)
  const response = await fetch(authorizationUrl(fake), { redirect: 'manual' })
  t.equal(response.status, 200)
  t.equal(fake.received[0]!.params.get('response_mode'), 'query')
})
