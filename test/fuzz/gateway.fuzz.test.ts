// Fuzzing the running gateway from both sides at once: random and hostile requests (methods, paths,
// query strings, bodies, headers) against a scripted legacy server that answers with random and
// hostile redirects, pages, encodings and faults, sealed states included. Invariants: no crash, every
// request answered within a bound, no 500 without a logged reason, no JWT for an answer that was not
// for the flow's redirect_uri. The short run is always on; FUZZ_RUNS=100000 for a long one; the seed
// is printed (replay with FC_SEED=...).
import { request as httpRequest } from 'node:http'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import fc from 'fast-check'
import { anyText, parameterName, SEED } from '../helpers/fc-settings.js'
import { decodeJwt } from 'jose'
import { gatewayKeySet, HS_SECRET, plainAnswer, startFakeStack, verifyResponse } from '../helpers/fake-stack.js'
import { rawRequest } from '../helpers/raw-http.js'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300)
/** Every request must be answered (or the connection closed) within this; the upstream times out at 300 ms. */
const ANSWER_BOUND_MS = 5000
t.comment(`fuzz seed ${SEED}, ${RUNS} runs (replay with FC_SEED=${SEED} FUZZ_RUNS=${RUNS})`)

const stack = await startFakeStack({ config: { upstream: { timeout_ms: 300 }, limits: { captured_page_bytes: 4096, authorization_request_bytes: 2048 } } })
t.teardown(() => stack.close())
const keys = await gatewayKeySet(stack.gatewayUrl)

const JWT_MODES = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt']

// ---- the request side ------------------------------------------------------------------------
const parameters = fc.array(fc.oneof(
  fc.tuple(fc.constantFrom('response_mode'), fc.oneof(fc.constantFrom(...JWT_MODES, 'query', 'form_post', ''), anyText(10))),
  fc.tuple(fc.constantFrom('client_id'), fc.oneof(fc.constantFrom('app1', 'hs', 'unlisted'), anyText(10))),
  fc.tuple(fc.constantFrom('redirect_uri'), fc.oneof(fc.constantFrom('https://client.example.org/cb', 'https://client.example.org/cb?x=1', 'http://127.0.0.1/cb', '//evil.example', 'javascript:alert(1)'), fc.webUrl({ withQueryParameters: true, withFragments: true }), anyText(20))),
  fc.tuple(fc.constantFrom('response_type'), fc.constantFrom('code', 'code id_token', 'token', 'id_token token', 'none', '', 'code code')),
  fc.tuple(fc.constantFrom('state', 'nonce', 'scope', 'request', 'request_uri', 'prompt'), anyText(30)),
  fc.tuple(parameterName, anyText(20)),
), { maxLength: 10 })

/** Mostly complete JWT-mode requests (so flows reach the response side), the rest anything. */
const query = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...JWT_MODES), fc.constantFrom('app1', 'hs', 'unlisted'), fc.constantFrom('code', 'code id_token', 'id_token'), fc.option(anyText(30), { nil: undefined }), parameters).map(([mode, client, type, state, rest]) => {
    const p = new URLSearchParams({ response_mode: mode, client_id: client, response_type: type, redirect_uri: 'https://client.example.org/cb' })
    if (state !== undefined) p.set('state', state)
    for (const [n, v] of rest) if (!p.has(n)) p.append(n, v)
    return p.toString()
  }) },
  { weight: 1, arbitrary: parameters.map((list) => new URLSearchParams(list).toString()) },
  { weight: 1, arbitrary: anyText(200).map((s) => encodeURI(s).replace(/#/g, '%23')) },
)

const requestSpec = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'DELETE'),
  path: fc.oneof({ weight: 8, arbitrary: fc.constant('/auth') }, { weight: 5, arbitrary: fc.constantFrom('/auth/', '//auth', '/AUTH', '/auth;x=1', '/.well-known/openid-configuration', '/jwks', '/token', '/interaction/x', '/', '/%00', '/..%2f..%2fetc') }),
  query,
  body: fc.option(fc.oneof(query, anyText(300), fc.constant('a'.repeat(5000))), { nil: undefined }),
  contentType: fc.constantFrom('application/x-www-form-urlencoded', 'APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8', 'text/plain', 'multipart/form-data; boundary=x', 'application/json', undefined),
  headers: fc.array(fc.tuple(fc.constantFrom('x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-request-id', 'connection', 'keep-alive', 'te', 'trailer', 'expect', 'proxy-authorization', 'upgrade', 'cookie', 'accept-encoding', 'x-http-method-override', 'content-encoding'),
    fc.oneof(fc.constantFrom('evil.example', 'close', 'keep-alive, x-forwarded-for', 'trailers', '100-continue', 'gzip', 'websocket', 'x'.repeat(2000)), fc.stringMatching(/^[\x20-\x7e]{0,40}$/))), { maxLength: 4 }),
  raw: fc.boolean(),
})

// ---- the response side -----------------------------------------------------------------------
type AnswerSpec = {
  kind: 'faithful' | 'redirect' | 'page' | 'json' | 'reset' | 'hang' | 'garbage-encoding' | 'chunked-truncated' | 'huge-header'
  status: number
  where: 'query' | 'fragment' | 'form'
  target: string
  sealed: boolean
  extra: Array<[string, string]>
  html: string
  contentType: string | undefined
}
const answerSpec: fc.Arbitrary<AnswerSpec> = fc.record({
  kind: fc.constantFrom('faithful', 'faithful', 'faithful', 'faithful', 'faithful', 'faithful', 'redirect', 'redirect', 'redirect', 'redirect', 'redirect', 'page', 'page', 'page', 'json', 'reset', 'hang', 'garbage-encoding', 'chunked-truncated', 'huge-header'),
  status: fc.constantFrom(200, 302, 303, 307, 400, 404, 500, 204, 304),
  where: fc.constantFrom('query', 'fragment', 'form'),
  target: fc.constantFrom('https://client.example.org/cb', 'https://client.example.org/cb', 'https://client.example.org/cb', 'https://client.example.org/cb', 'https://client.example.org/cb?x=1', 'https://evil.example/cb', '/cb', '//client.example.org/cb', 'https://client.example.org/cb#x', 'javascript:alert(1)', 'https://client.example.org\\@evil.example/cb'),
  sealed: fc.constantFrom(true, true, true, false),
  extra: fc.array(fc.tuple(parameterName, anyText(30)), { maxLength: 6 }),
  html: fc.oneof(anyText(200), fc.array(fc.constantFrom('<form method=post action="https://client.example.org/cb">', '</form>', '<input name=code value=x>', '<input type=hidden name="state" value="', '">', '<!--', '<script>', '</script>', '<textarea>', '&amp;', '&#x', '<form action=/evil>', '<FORM', '<input name=state value=jg1.AAAA>'), { maxLength: 20 }).map((p) => p.join(''))),
  contentType: fc.constantFrom('text/html', 'text/html; charset=utf-8', 'application/xhtml+xml', 'text/plain', 'application/json', undefined),
})

let currentAnswer: AnswerSpec | undefined
let answersScripted = 0
stack.script = async (req, res, url) => {
  const spec = currentAnswer
  if (spec === undefined || url.pathname === '/.well-known/openid-configuration' || url.pathname === '/jwks') return false
  answersScripted++
  // Marks what the legacy server itself answered (its own 500s are passed on, not the gateway's).
  res.setHeader('x-from-legacy', '1')
  let state = url.searchParams.get('state') ?? ''
  if (req.method === 'POST') {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    state = new URLSearchParams(Buffer.concat(chunks).toString('latin1')).get('state') ?? state
  }
  const answer = new URLSearchParams(spec.extra)
  if (spec.sealed && state !== '') answer.append('state', state)
  switch (spec.kind) {
    case 'faithful': {
      // A well-behaved legacy server: the plain answer for the request it got, hostile values included.
      const parameters = req.method === 'POST' ? new URLSearchParams(`state=${encodeURIComponent(state)}&${url.searchParams}`) : url.searchParams
      if (parameters.get('redirect_uri') === null || !URL.canParse(parameters.get('redirect_uri')!)) return false
      const unique = Object.fromEntries(spec.extra.filter(([n]) => !['state', 'code', 'access_token', 'token_type', 'expires_in', 'id_token'].includes(n)))
      plainAnswer(res, parameters, unique)
      return true
    }
    case 'reset':
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': '1000' })
      res.write('<form><input name="state" value="')
      setImmediate(() => res.socket?.destroy())
      return true
    case 'hang':
      return true // never answers: the gateway's upstream timeout must end it
    case 'garbage-encoding':
      res.writeHead(spec.status, { 'content-type': 'text/html', 'content-encoding': spec.sealed ? 'gzip' : 'br' })
      res.end(spec.sealed ? gzipSync(`<form action="${spec.target}"><input name=state value="${state}">`).subarray(0, 20) : Buffer.from('not brotli at all'))
      return true
    case 'chunked-truncated':
      res.writeHead(200, { 'content-type': 'text/html', 'transfer-encoding': 'chunked' })
      res.write(`<form method="post" action="${spec.target}"><input name="state" value="${state}">`)
      setImmediate(() => res.socket?.destroy())
      return true
    case 'huge-header':
      res.writeHead(302, { location: `${spec.target}?state=${encodeURIComponent(state)}&pad=${'p'.repeat(20_000)}` })
      res.end()
      return true
    case 'json':
      res.writeHead(spec.status, { 'content-type': 'application/json' })
      res.end(spec.html)
      return true
    case 'page': {
      const inputs = [...answer].map(([n, v]) => `<input type="hidden" name="${n.replace(/"/g, '&quot;')}" value="${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">`).join('')
      const page = spec.where === 'form' ? `<html><body><form method="post" action="${spec.target}">${inputs}</form>${spec.html}</body></html>` : spec.html
      res.writeHead(spec.status === 204 || spec.status === 304 ? 200 : spec.status, spec.contentType === undefined ? {} : { 'content-type': spec.contentType })
      res.end(page)
      return true
    }
    default: {
      const separator = spec.where === 'fragment' ? '#' : spec.target.includes('?') ? '&' : '?'
      const location = `${spec.target}${separator}${answer}`
      res.writeHead(spec.status >= 300 && spec.status < 400 && spec.status !== 304 ? spec.status : 302, { location })
      res.end()
    }
  }
  return true
}

interface Reply { status: number | undefined, requestId: string | undefined, answered: boolean, location: string | undefined, fromLegacy: boolean }

/** A failing case, short enough to read (replay it whole with the seed). */
function brief (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => typeof v === 'string' && v.length > 120 ? `${v.slice(0, 120)}...(${v.length})` : v)
}

type RequestSpec = typeof requestSpec extends fc.Arbitrary<infer T> ? T : never

function send (spec: RequestSpec, path: string): Promise<Reply> {
  const target = `${spec.path}${spec.query === '' ? '' : `?${spec.query}`}`
  const headers: Record<string, string> = {}
  for (const [name, value] of spec.headers) headers[name] = value
  if (spec.contentType !== undefined && spec.body !== undefined) headers['content-type'] = spec.contentType
  if (spec.raw) {
    // Raw bytes: the target and headers exactly as generated (a client that has not finished its
    // body is not owed an answer, so Content-Length is true; slow clients are a test of their own).
    const body = spec.body ?? ''
    const head = [`${spec.method} ${target.replace(/[\r\n ]/g, '')} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).filter(([n]) => n !== 'content-encoding' && n !== 'connection').map(([n, v]) => `${n}: ${v}`), 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`, '', body]
    return rawRequest(stack.gatewayUrl, head.join('\r\n'), ANSWER_BOUND_MS).then((reply) => ({
      status: reply.status,
      requestId: reply.headers.find(([n]) => n === 'x-request-id')?.[1],
      answered: reply.answered,
      location: reply.headers.find(([n]) => n === 'location')?.[1],
      fromLegacy: reply.headers.some(([n]) => n === 'x-from-legacy'),
    }))
  }
  return new Promise((resolve) => {
    const req = httpRequest(`${stack.gatewayUrl}${path}`, { method: spec.method, headers, agent: false }, (res) => {
      res.resume()
      const done = (): void => { clearTimeout(timer); resolve({ status: res.statusCode, requestId: res.headers['x-request-id'] as string | undefined, answered: true, location: res.headers.location, fromLegacy: res.headers['x-from-legacy'] !== undefined }) }
      res.on('end', done)
      res.on('error', done)
      res.on('close', done)
    })
    const timer = setTimeout(() => { req.destroy(); resolve({ status: undefined, requestId: undefined, answered: false, location: undefined, fromLegacy: false }) }, ANSWER_BOUND_MS)
    req.on('error', () => { clearTimeout(timer); resolve({ status: undefined, requestId: undefined, answered: true, location: undefined, fromLegacy: false }) })
    if (spec.body !== undefined && spec.method !== 'GET' && spec.method !== 'HEAD') req.write(spec.body)
    req.end()
  })
}

t.test(`fuzz: ${RUNS} request/answer pairs`, async (t) => {
  const statuses = new Map<number | string, number>()
  let unanswered = 0
  let unexplained500 = 0
  let signedElsewhere = 0
  let verified = 0
  await fc.assert(fc.asyncProperty(requestSpec, answerSpec, async (spec, answer) => {
    currentAnswer = answer
    const path = `${spec.path}${spec.query === '' ? '' : `?${spec.query}`}`
    let reply
    const started = Date.now()
    try {
      reply = await send(spec, path)
      if (process.env['FUZZ_DEBUG'] !== undefined && Date.now() - started > 800) t.comment(`slow ${Date.now() - started} ms: ${brief({ spec, answer, reply })}`)
    } catch {
      // fetch-level refusals of the generated input (an invalid header value) are not gateway answers.
      return true
    }
    statuses.set(reply.status ?? 'closed', (statuses.get(reply.status ?? 'closed') ?? 0) + 1)
    if (!reply.answered) { unanswered++; t.fail(`no answer within ${ANSWER_BOUND_MS} ms: ${brief({ spec, answer })}`); return false }
    if (reply.status === 500 && !reply.fromLegacy) {
      const logged = stack.logs.some((line) => line['event'] === 'request.failed' && line['requestId'] === reply.requestId && typeof line['code'] === 'string')
      if (!logged) { unexplained500++; t.fail(`a 500 without a logged reason: ${brief({ spec, answer })}`); return false }
    }
    // A JARM response (response= in a Location) only ever goes to the flow's redirect_uri.
    // (The flow is begun and answered within this one request, so its redirect_uri is the request's.)
    const asked = [...new URLSearchParams(spec.query).getAll('redirect_uri'), ...new URLSearchParams(spec.body ?? '').getAll('redirect_uri')].map((uri) => uri.split('#')[0]!)
    const endpoint = (uri: string): string | undefined => URL.canParse(uri) ? (({ origin, pathname }) => `${origin}${pathname}`)(new URL(uri)) : undefined
    if (reply.location !== undefined && /[?#&]response=/.test(reply.location) && !asked.some((uri) => reply.location!.startsWith(uri) && endpoint(uri) === endpoint(reply.location!))) {
      signedElsewhere++
      t.fail(`a response went elsewhere: ${brief({ location: reply.location, spec, answer })}`)
      return false
    }
    if (reply.location !== undefined && /[?#&]response=/.test(reply.location)) {
      // Every JARM response that does go out verifies with the published keys (or the HS client's secret).
      const jwt = /[?#&]response=([^&#]+)/.exec(reply.location)![1]!
      const clientId = String(decodeJwt(jwt).aud)
      await verifyResponse(jwt, clientId === 'hs' ? new TextEncoder().encode(HS_SECRET) : keys, { issuer: stack.gatewayUrl, clientId, algorithms: ['ES256', 'RS256', 'HS256'] })
      verified++
    }
    return true
  }), { seed: SEED, numRuns: RUNS, endOnFailure: true })
  t.comment(`${verified} JARM responses in Location headers verified`)
  currentAnswer = undefined
  t.equal(unanswered, 0, 'every request answered within the bound')
  t.equal(unexplained500, 0, 'no 500 without a logged reason')
  t.equal(signedElsewhere, 0, 'no response sent anywhere but the redirect_uri')
  const signed = stack.logs.filter((line) => line['event'] === 'jarm.response').length
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}; ${answersScripted} hostile legacy answers; ${signed} JARM responses signed`)
  // After all of it, the gateway still works and left no upstream socket in use beyond its keep-alive pool.
  const health = await fetch(`${stack.gatewayUrl}/.well-known/openid-configuration`)
  t.equal(health.status, 200, 'still serving')
  const failures = stack.logs.filter((line) => line['event'] === 'request.failed' && line['status'] === 500)
  t.same(failures.filter((line) => line['code'] !== 'internal_error' && line['code'] !== 'signing_failed'), [], '500s carry a code')
  t.comment(`500s: ${JSON.stringify(failures.map((line) => `${String(line['code'])}: ${String(line['cause'])}`))}`)
})
