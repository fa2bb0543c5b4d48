// The request target and Host (RFC 9112 §3.2, RFC 3986 §3.2.2) and the message framing rules
// (RFC 9112 §6-§7): pure functions, unit cases and properties.
import t from 'tap'
import fc from 'fast-check'
import { isGatewayError } from '../../src/errors.js'
import { requestFramingError, responseFramingProblem } from '../../src/http/message-framing.js'
import { isValidHost, readRequestTarget, type RequestTarget } from '../../src/http/request-target.js'
import { fcOptions, propertyRuns, SEED } from '../helpers/fc-settings.js'

t.comment(`fast-check seed ${SEED} (replay with FC_SEED=${SEED})`)
const runs = propertyRuns(300)

const read = (method: string, target: string, host?: string | string[]): RequestTarget | string => {
  const hosts = host === undefined ? [] : Array.isArray(host) ? host : [host]
  const result = readRequestTarget(method, target, ['Accept', '*/*', ...hosts.flatMap((value) => ['Host', value])])
  return isGatewayError(result) ? result.code : result
}

t.test('request targets: origin-form kept, absolute-form normalised, the rest refused', async (t) => {
  t.same(read('GET', '/a?b=1', 'gw'), { target: '/a?b=1', path: '/a', query: 'b=1', host: 'gw' })
  t.same(read('GET', '/a', undefined), { target: '/a', path: '/a', query: '', host: undefined }, 'HTTP/1.0 without Host')
  t.same(read('GET', 'http://gw.example:81/authorize?x=1', 'other'), { target: '/authorize?x=1', path: '/authorize', query: 'x=1', host: 'gw.example:81' })
  t.same(read('GET', 'HTTPS://GW?x', undefined), { target: '/?x', path: '/', query: 'x', host: 'GW' })
  t.same(read('GET', 'http://gw', 'gw'), { target: '/', path: '/', query: '', host: 'gw' })
  t.same(read('OPTIONS', '*', 'gw'), { target: '*', path: '*', query: '', host: 'gw' })
  for (const [method, target] of [['GET', '*'], ['POST', '*'], ['GET', 'ftp://gw/'], ['GET', 'gw:80'], ['GET', 'http://u:p@gw/'], ['GET', 'http:///a'], ['GET', 'http://gw:x/'], ['GET', '/a#b'], ['GET', 'http://gw/#'], ['GET', 'a/b']]) {
    t.equal(read(method!, target!, 'gw'), 'invalid_request_target', `${method} ${target}`)
  }
  t.equal(read('GET', '/a', ['gw', 'gw']), 'invalid_host', 'two Host lines, even equal ones')
  t.equal(read('GET', 'http://gw/a', ['gw', 'evil']), 'invalid_host', 'absolute-form does not excuse two Hosts')
  t.equal(read('GET', '/a', 'gw?x='), 'invalid_host')
  t.same(readRequestTarget('GET', '/a', ['HOST', 'a', 'Hosts', 'b']), { target: '/a', path: '/a', query: '', host: 'a' }, 'names are case-insensitive; only Host is Host')
})

t.test('hosts: the RFC 3986 authority forms the WHATWG parser reads the same way', async (t) => {
  for (const host of ['a', 'gw.example', 'GW.example.', 'a-b_c~d', "a!$&'()*+,;=b", 'gw:0', 'gw:65535', 'gw:', '127.0.0.1', '0.0.0.0:80', '[::1]', '[::1]:8080', '[2001:db8::a:1]', '[::ffff:1.2.3.4]', 'xn--bcher-kva.example', '1a.example', 'example.123a']) {
    t.ok(isValidHost(host), host)
  }
  for (const host of ['', ':80', 'gw:65536', 'gw:123456', 'gw:-1', 'gw:8o', 'g w', 'gw?x', 'gw/x', 'gw#', 'u@gw', 'gw\\x', 'g%41w', 'ü.example', '[::1', '::1', '[v1.x]', '[fe80::1%eth0]', '[::1]x', '[1.2.3.4]', '1.2.3.999', '01.2.3.4', '1.2.3', '0x7f.1', '1.2.3.4.', 'example.0x10', 'a:b:80', 'xn--a']) {
    t.notOk(isValidHost(host), JSON.stringify(host))
  }
})

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
const regName = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'))
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'))
const ipv6 = fc.ipV6().map((address) => `[${address}]`)
const port = fc.option(fc.nat(65535).map((n) => `:${n}`), { nil: '' })
const authority = fc.tuple(fc.oneof(regName, ipv4, ipv6), port).map(([host, p]) => host + p)

t.test('property: every valid authority is accepted, read by the WHATWG parser as the same host and port', async (t) => {
  fc.assert(fc.property(fc.oneof(regName, ipv4), port, (host, p) => {
    const url = new URL(`http://${host}${p}/`)
    return isValidHost(host + p) && url.hostname === host && Number(url.port || 80) === Number(p.slice(1) || 80)
  }), fcOptions(runs))
  // IPv6 comes back compressed (`[::0:0.0.0.0]` is `[::]`): the same address, another spelling.
  fc.assert(fc.property(ipv6, port, (host, p) => isValidHost(host + p) && URL.canParse(`http://${host}${p}/`)), fcOptions(runs))
  t.pass()
})

t.test('property: a delimiter or space anywhere in an authority makes it invalid, and the query never leaks from Host', async (t) => {
  const breaker = fc.constantFrom('?', '/', '#', '@', ' ', '\\', '%', '\t', '"', '<', '^', '|', '`')
  fc.assert(fc.property(authority, breaker, fc.nat(), (value, character, at) => {
    const i = at % (value.length + 1)
    return !isValidHost(value.slice(0, i) + character + value.slice(i))
  }), fcOptions(runs))
  const query = fc.stringMatching(/^[a-z0-9=&_.%-]{0,30}$/)
  fc.assert(fc.property(fc.oneof(regName, ipv4), fc.stringMatching(/^(\/[a-z]{1,6}){1,3}$/), query, fc.boolean(), (host, path, q, absolute) => {
    const target = `${path}?${q}`
    const result = read('GET', absolute ? `http://${host}${target}` : target, 'ignored.example')
    return typeof result !== 'string' && result.target === target && result.path === path && result.query === q && result.host === (absolute ? host : 'ignored.example')
  }), fcOptions(runs))
  t.pass()
})

t.test('framing: chunked is the only transfer coding, on requests and answers', async (t) => {
  t.equal(requestFramingError({}), undefined)
  t.equal(requestFramingError({ 'transfer-encoding': 'chunked' }), undefined)
  t.equal(requestFramingError({ 'transfer-encoding': ' Chunked\t' }), undefined)
  for (const codings of ['gzip, chunked', 'chunked, chunked', 'identity', 'x']) t.equal(requestFramingError({ 'transfer-encoding': codings })?.code, 'transfer_coding_not_implemented', codings)
  t.equal(requestFramingError({ 'transfer-encoding': 'gzip, chunked' })?.status, 501)
  t.equal(responseFramingProblem({ 'content-length': '3' }), undefined)
  t.equal(responseFramingProblem({ 'transfer-encoding': 'chunked' }), undefined)
  t.match(responseFramingProblem({ 'transfer-encoding': 'gzip' }), /other than chunked/)
  t.match(responseFramingProblem({ 'transfer-encoding': 'chunked', 'content-length': '3' }), /both Content-Length and Transfer-Encoding/, 'should a parser ever let it through')
})
