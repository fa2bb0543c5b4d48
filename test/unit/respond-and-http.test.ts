import t from 'tap'
import { Readable } from 'node:stream'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { GatewayError } from '../../src/errors.js'
import { decodeBody, readBounded } from '../../src/http/bounded-body.js'
import { prepareRequestHeaders, responseHeadersToCopy } from '../../src/proxy/forwarding-headers.js'
import { proxyTarget } from '../../src/proxy/upstream-proxy.js'
import { errorPage } from '../../src/respond/error-page.js'
import { escapeHtml } from '../../src/respond/html-escape.js'
import { deliver, formPostPage, redirectLocation } from '../../src/respond/response-delivery.js'
import { addressOf, listen } from '../../src/server.js'

t.test('redirect locations keep the own query and drop a fragment', async (t) => {
  t.equal(redirectLocation('query.jwt', 'https://c.example/cb', 'a.b.c'), 'https://c.example/cb?response=a.b.c')
  t.equal(redirectLocation('query.jwt', 'https://c.example/cb?x=a%20b', 'a.b.c'), 'https://c.example/cb?x=a%20b&response=a.b.c')
  t.equal(redirectLocation('fragment.jwt', 'https://c.example/cb?x=1#old', 'a.b.c'), 'https://c.example/cb?x=1#response=a.b.c')
  t.same(deliver('query.jwt', 'https://c.example/cb', 'j'), { status: 303, headers: { location: 'https://c.example/cb?response=j', 'cache-control': 'no-store' }, body: '' })
})

t.test('the form_post page escapes the action and the value, and allows only its own script', async (t) => {
  const page = formPostPage('https://c.example/cb?a="><script>alert(1)</script>&b=\'', '"><img src=x onerror=alert(1)>')
  t.notMatch(page.body, /<script>alert/)
  t.notMatch(page.body, /<img/)
  t.match(page.body, /action="https:\/\/c\.example\/cb\?a=&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;&amp;b=&#39;"/)
  t.match(page.body, /value="&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;"/)
  t.match(page.headers['content-security-policy'], /^default-src 'none'; script-src 'sha256-[\w+/=]+'; base-uri 'none'; frame-ancestors 'none'; form-action https:\/\/c\.example$/)
  const script = /<script>([^<]*)<\/script>/.exec(page.body)![1]!
  const { createHash } = await import('node:crypto')
  t.match(page.headers['content-security-policy'], `'sha256-${createHash('sha256').update(script).digest('base64')}'`, 'the hash is the script\'s')
  t.equal(formPostPage('com.example.app:/cb#x', 'j').headers['content-security-policy'].includes('form-action'), false, 'no form-action for a custom scheme')
  t.match(formPostPage('com.example.app:/cb#x', 'j').body, /action="com\.example\.app:\/cb"/)
  t.equal(deliver('form_post.jwt', 'https://c.example/cb', 'j').status, 200)
})

t.test('error pages say what went wrong and never echo markup', async (t) => {
  const page = errorPage(new GatewayError('missing_parameter', 'parameter <b>x</b> is required'), 'req-1')
  t.equal(page.status, 400)
  t.equal(page.headers['cache-control'], 'no-store')
  t.match(page.body, /<title>A required parameter is missing<\/title>/)
  t.match(page.body, /parameter &lt;b&gt;x&lt;\/b&gt; is required/)
  t.match(page.body, /invalid_request<\/code> \(<code>missing_parameter<\/code>\)\. Request id: <code>req-1<\/code>/)
  t.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;')
})

t.test('bodies: bounded reads and every encoding', async (t) => {
  const whole = await readBounded(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 10)
  t.same(whole, { chunks: [Buffer.from('ab'), Buffer.from('cd')], size: 4, complete: true })
  const stream = Readable.from([Buffer.from('abc'), Buffer.from('def'), Buffer.from('ghi')])
  const partial = await readBounded(stream, 4)
  t.equal(partial.complete, false)
  t.equal(Buffer.concat(partial.chunks).toString(), 'abcdef')
  const rest: Buffer[] = []
  for await (const chunk of stream) rest.push(chunk as Buffer)
  t.equal(Buffer.concat(rest).toString(), 'ghi', 'the rest is still there to pass on')
  const failing = new Readable({ read () { this.destroy(new Error('boom')) } })
  await t.rejects(readBounded(failing, 10), /boom/)
  const closing = new Readable({ read () { this.push('x'); this.destroy() } })
  await t.rejects(readBounded(closing, 10), /closed before its end/)

  const text = 'é <form> jg1.'
  t.equal(decodeBody(Buffer.from(text), undefined, 100), text)
  t.equal(decodeBody(Buffer.from(text), 'identity', 100), text)
  t.equal(decodeBody(gzipSync(text), ' GZIP ', 100), text)
  t.equal(decodeBody(gzipSync(text), 'x-gzip', 100), text)
  t.equal(decodeBody(deflateSync(text), 'deflate', 100), text)
  t.equal(decodeBody(brotliCompressSync(text), 'br', 100), text)
  t.equal(decodeBody(gzipSync('a'.repeat(1000)).subarray(0, 30), 'gzip', 10_000)!.length > 0, true, 'a cut body decodes as far as it goes')
  t.equal(decodeBody(Buffer.from(text), 'compress', 100), undefined)
  t.throws(() => decodeBody(gzipSync('a'.repeat(1000)), 'gzip', 100), 'output beyond the limit is refused')
})

t.test('header rules', async (t) => {
  const headers: Record<string, string | string[] | undefined> = { host: 'id.example', connection: 'keep-alive, X-Custom', 'x-custom': '1', 'keep-alive': 'timeout=5', upgrade: 'h2c', te: 'trailers', 'proxy-authorization': 'x', 'proxy-foo': 'y', expect: '100-continue', accept: 'text/html', 'x-forwarded-for': '1.1.1.1' }
  prepareRequestHeaders(headers, { remoteAddress: '127.0.0.1', localPort: 8080, trustForwarded: false, scheme: 'http' })
  t.same(headers, { host: 'id.example', accept: 'text/html', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'id.example', 'x-forwarded-port': '8080' })
  const noHost: Record<string, string | undefined> = {}
  prepareRequestHeaders(noHost, { remoteAddress: undefined, localPort: undefined, trustForwarded: false, scheme: 'https' })
  t.same(noHost, { 'x-forwarded-for': '', 'x-forwarded-proto': 'https' }, 'the listening scheme (listen.tls) is the one forwarded')
  t.same(responseHeadersToCopy({ 'transfer-encoding': 'chunked', 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/html', connection: 'close' }), { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/html' })
  t.same(responseHeadersToCopy({ 'content-type': 'text/html', 'x-private': 'p', connection: ' Keep-Alive , X-Private', 'keep-alive': 'timeout=5' }), { 'content-type': 'text/html' }, 'a field the Connection header names is dropped, in any case and spacing')
  t.same(responseHeadersToCopy({ 'content-type': 'text/html', 'keep-alive': 'timeout=5', connection: 'Keep-Alive' }), { 'content-type': 'text/html' }, 'the usual Connection values')
})

t.test('X-Forwarded-For behind a trusted proxy: this hop appended to the chain, never an empty entry', async (t) => {
  const hop = (remoteAddress: string | undefined) => ({ remoteAddress, localPort: 8080, trustForwarded: true, scheme: 'http' as const })
  const chained: Record<string, string | undefined> = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }
  prepareRequestHeaders(chained, hop('10.0.0.2'))
  t.equal(chained['x-forwarded-for'], '203.0.113.7, 10.0.0.1, 10.0.0.2')
  const emptyPrior: Record<string, string | undefined> = { 'x-forwarded-for': '' }
  prepareRequestHeaders(emptyPrior, hop('10.0.0.2'))
  t.equal(emptyPrior['x-forwarded-for'], '10.0.0.2')
  const unknownRemote: Record<string, string | undefined> = { 'x-forwarded-for': '203.0.113.7' }
  prepareRequestHeaders(unknownRemote, hop(undefined))
  t.equal(unknownRemote['x-forwarded-for'], '203.0.113.7', 'a socket already gone adds nothing')
})

t.test('the upstream origin in the shape http-proxy reads', async (t) => {
  t.same(proxyTarget('http://127.0.0.1:8080'), { protocol: 'http:', host: '127.0.0.1:8080', hostname: '127.0.0.1', port: '8080', path: '/' })
  t.same(proxyTarget('https://[::1]:8443/base?x=1'), { protocol: 'https:', host: '[::1]:8443', hostname: '::1', port: '8443', path: '/base?x=1' }, 'an IPv6 address without its brackets, as url.parse gives it')
})

t.test('addresses print for IPv4 and IPv6', async (t) => {
  const v4 = await listen('127.0.0.1', 0)
  t.match(addressOf(v4), /^http:\/\/127\.0\.0\.1:\d+$/)
  v4.close()
  const v6 = await listen('::1', 0)
  t.match(addressOf(v6), /^http:\/\/\[::1\]:\d+$/)
  v6.close()
})
