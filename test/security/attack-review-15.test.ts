// Attack review 15: a hostile client and a hostile, reflective legacy server against the gateway.
// Same-request answers carrying the sealed state just sent (exact, near copies, repeats, encodings,
// fragment, Refresh, form_post), a legacy server slower than state.ttl_seconds, odd parameter names,
// remembered answers (Host, Content-Type, redirect_uri, response_type) across requests, the JARM
// counters, replays, smuggling and absolute-form targets. A passing test shows the gateway holds.
import t, { type Test } from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { gatewayKeySet, startFakeStack, verifyResponse } from '../helpers/fake-stack.js'
import { rawRequest } from '../helpers/raw-http.js'

const BASE_MS = 1_900_000_000_000
let offsetMs = 0
const stack = await startFakeStack({
  now: () => BASE_MS + offsetMs,
  config: {
    state: { secrets: ['a-test-secret-for-sealing-flow-state-0123456789'], ttl_seconds: 60 },
    extra_response_parameters: ['__proto__', 'constructor', 'toJSON', 'hasOwnProperty', 'valueOf', '0', 'aud', 'exp', 'iat'],
  },
})
t.teardown(() => stack.close())
const keys = await gatewayKeySet(stack.gatewayUrl)
const signed = (): number => stack.logs.filter((line) => line['event'] === 'jarm.response').length
const RU = 'https://client.example.org/cb'
t.afterEach(() => { stack.script = undefined; offsetMs = 0 })

type Answer = (p: URLSearchParams, req: IncomingMessage, res: ServerResponse) => void
/** The legacy server answers the authorization request at once. Records what it got. */
function atOnce (answer: Answer): URLSearchParams[] {
  const seen: URLSearchParams[] = []
  stack.script = (req, res, url) => {
    if (url.pathname !== '/auth') return false
    seen.push(url.searchParams)
    answer(url.searchParams, req, res)
    return true
  }
  return seen
}
const redirect = (location: string): Answer => (_p, _req, res) => { res.writeHead(302, { location }); res.end() }

function authUrl (parameters: Record<string, string> = {}): string {
  return `${stack.gatewayUrl}/auth?${new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: RU, response_mode: 'query.jwt', state: 'client-state', scope: 'openid', ...parameters })}`
}
async function authorize (parameters: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ status: number, location: string, body: string, cookies: string }> {
  const response = await fetch(authUrl(parameters), { redirect: 'manual', headers })
  const body = await response.text()
  return { status: response.status, location: response.headers.get('location') ?? '', body, cookies: response.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ') }
}
function responseOf (location: string): string | undefined {
  if (location === '') return undefined
  const url = new URL(location)
  return url.searchParams.get('response') ?? new URLSearchParams(url.hash.slice(1)).get('response') ?? undefined
}
async function claimsOf (jwt: string, clientId = 'app1'): Promise<Record<string, unknown>> {
  return (await verifyResponse(jwt, keys, { issuer: stack.gatewayUrl, clientId, algorithms: ['ES256'] })).payload as Record<string, unknown>
}
/** Nothing plain leaves: no code in the Location, nor in the page. */
function noPlainCode (t: Test, r: { location: string, body: string }, code: string, what: string): void {
  t.notOk(r.location.includes(code), `${what}: the plain code is not in the Location`)
  t.notOk(r.body.includes(code), `${what}: the plain code is not in the page`)
}

t.test('same-request answer with the exact sealed state: signed for exactly the flow asked for', async (t) => {
  atOnce((p, req, res) => redirect(`${RU}?code=C0DE&state=${encodeURIComponent(p.get('state')!)}`)(p, req, res))
  const r = await authorize()
  t.equal(r.status, 303)
  t.ok(r.location.startsWith(`${RU}?response=`), 'to the redirect_uri')
  const claims = await claimsOf(responseOf(r.location)!)
  t.same({ code: claims['code'], state: claims['state'], aud: claims['aud'], iss: claims['iss'] }, { code: 'C0DE', state: 'client-state', aud: 'app1', iss: stack.gatewayUrl })
  t.equal((claims['exp'] as number) - (claims['iat'] as number), 120)
  t.equal(claims['iat'], Math.floor(BASE_MS / 1000))
})

t.test('same-request answer with a near copy of the sealed state: never signed, never plain', async (t) => {
  const variants: Array<[string, (s: string) => string]> = [
    ['first char after prefix', (s) => s.slice(0, 4) + (s[4] === 'A' ? 'B' : 'A') + s.slice(5)],
    ['middle char', (s) => { const i = Math.floor(s.length / 2); return s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1) }],
    ['last char', (s) => s.slice(0, -1) + (s.at(-1) === 'A' ? 'B' : 'A')],
    ['last char trailing bits', (s) => { const c = s.at(-1)!; const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'; const i = alphabet.indexOf(c); return s.slice(0, -1) + alphabet[i ^ 1] }],
    ['appended char', (s) => `${s}A`],
    ['appended padding', (s) => `${s}=`],
    ['truncated', (s) => s.slice(0, -1)],
    ['prefix case', (s) => `JG1.${s.slice(4)}`],
    ['standard base64', (s) => s.replace(/-/g, '+').replace(/_/g, '/')],
    ['leading space', (s) => ` ${s}`],
    ['trailing space', (s) => `${s} `],
    ['trailing newline', (s) => `${s}\n`],
  ]
  for (const [what, change] of variants) {
    atOnce((p, req, res) => redirect(`${RU}?code=NEARCODE&state=${encodeURIComponent(change(p.get('state')!))}`)(p, req, res))
    const before = signed()
    const r = await authorize()
    t.equal(signed(), before, `${what}: nothing signed`)
    t.not(r.status, 500, `${what}: no 500`)
    t.not(r.status, 303, `${what}: no redirect`)
    noPlainCode(t, r, 'NEARCODE', what)
  }
})

t.test('same-request answer with a second state, encodings, fragment, Refresh, form_post: either the flow\'s own response or nothing plain', async (t) => {
  const cases: Array<[string, Answer]> = [
    ['state twice, same', (p, q, s) => redirect(`${RU}?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['state twice, plain first', (p, q, s) => redirect(`${RU}?code=ODDCODE&state=plain&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['state twice, sealed first', (p, q, s) => redirect(`${RU}?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}&state=plain`)(p, q, s)],
    ['st%61te', (p, q, s) => redirect(`${RU}?code=ODDCODE&st%61te=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['state fully percent-encoded', (p, q, s) => redirect(`${RU}?code=ODDCODE&state=${[...p.get('state')!].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')}`)(p, q, s)],
    ['state + as space', (p, q, s) => redirect(`${RU}?code=ODDCODE&state=+${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['sealed in fragment of query flow', (p, q, s) => redirect(`${RU}#code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['code in query, sealed in fragment', (p, q, s) => redirect(`${RU}?code=ODDCODE#state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['sealed in query, plain state in fragment', (p, q, s) => redirect(`${RU}?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}#state=x&code=ODDCODE`)(p, q, s)],
    ['Refresh header', (p, _q, res) => { res.writeHead(200, { refresh: `0; url=${RU}?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}`, 'content-type': 'text/plain' }); res.end('wait') }],
    ['Refresh header beside a plain Location', (p, _q, res) => { res.writeHead(302, { location: '/login', refresh: `0;URL='${RU}?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}'` }); res.end() }],
    ['form_post page', (p, _q, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<form method=post action="${RU}"><input type=hidden name=code value=ODDCODE><input type=hidden name=state value="${p.get('state')!}"></form>`) }],
    ['form_post page with two states', (p, _q, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<form method=post action="${RU}"><input name=code value=ODDCODE><input name=state value="${p.get('state')!}"><input name=state value="${p.get('state')!}"></form>`) }],
    ['form_post page, state as entities', (p, _q, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<form method=post action="${RU}"><input name=code value=ODDCODE><input name=state value="${[...p.get('state')!].map((c) => `&#${c.charCodeAt(0)};`).join('')}"></form>`) }],
    ['meta refresh', (p, _q, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<meta http-equiv="refresh" content="0;url=${RU}?code=ODDCODE&amp;state=${encodeURIComponent(p.get('state')!)}">`) }],
    ['script location', (p, _q, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<script>location.replace("${RU}?code=ODDCODE&state=${p.get('state')!}")</script>`) }],
    ['other redirect_uri path', (p, q, s) => redirect(`${RU}2?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['upper-case host', (p, q, s) => redirect(`https://CLIENT.example.org/cb?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['trailing dot host', (p, q, s) => redirect(`https://client.example.org./cb?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
    ['explicit port 443', (p, q, s) => redirect(`https://client.example.org:443/cb?code=ODDCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s)],
  ]
  for (const [what, answer] of cases) {
    atOnce(answer)
    const before = signed()
    const r = await authorize()
    t.not(r.status, 500, `${what}: no 500`)
    noPlainCode(t, r, 'ODDCODE', what)
    const jwt = responseOf(r.location) ?? /name="response" value="([^"]+)"/.exec(r.body)?.[1]
    if (jwt !== undefined) {
      const claims = await claimsOf(jwt)
      t.same([claims['aud'], claims['state'], claims['code']], ['app1', 'client-state', 'ODDCODE'], `${what}: signed only as the flow's own response`)
      t.ok(new URL(r.location || /action="([^"]+)"/.exec(r.body)![1]!).href.startsWith(RU), `${what}: to the flow's redirect_uri`)
      t.equal(signed(), before + 1, `${what}: one response`)
    } else {
      t.equal(signed(), before, `${what}: nothing signed`)
    }
  }
})

t.test('same-request answer carrying another flow\'s sealed state (another client, redirect_uri): never signed for it here', async (t) => {
  // The attacker's earlier flow for client hs (the legacy server parks it behind a login page).
  const seen = atOnce((_p, _q, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('login') })
  await authorize({ client_id: 'hs', redirect_uri: 'https://other.example/cb', state: 'attacker' })
  const foreign = seen[0]!.get('state')!
  for (const target of ['https://other.example/cb', RU]) {
    atOnce(redirect(`${target}?code=FOREIGNCODE&state=${encodeURIComponent(foreign)}`))
    const before = signed()
    const r = await authorize()
    t.equal(signed(), before, `${target}: nothing signed`)
    noPlainCode(t, r, 'FOREIGNCODE', target)
    t.not(r.status, 500)
  }
  // The answer carries both this request's sealed state and the foreign one.
  atOnce((p, q, s) => redirect(`${RU}?code=FOREIGNCODE&state=${encodeURIComponent(foreign)}&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
  const before = signed()
  const r = await authorize()
  t.equal(signed(), before, 'two flows\' states: nothing signed')
  noPlainCode(t, r, 'FOREIGNCODE', 'both states')
})

t.test('a legacy server slower than state.ttl_seconds (60 s here) on the same request', async (t) => {
  for (const [late, expected] of [[59_000, 'signed'], [59_999, 'signed'], [60_000, 'expired'], [61_000, 'expired'], [3_600_000, 'expired']] as const) {
    atOnce((p, q, s) => { offsetMs = late; redirect(`${RU}?code=SLOWCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s) })
    const before = signed()
    const r = await authorize()
    if (expected === 'signed') {
      t.equal(signed(), before + 1, `${late} ms: signed`)
      const claims = await claimsOf(responseOf(r.location)!)
      t.equal(claims['iat'], Math.floor((BASE_MS + late) / 1000), `${late} ms: iat is the answer's time`)
    } else {
      t.equal(signed(), before, `${late} ms: nothing signed`)
      t.equal(r.status, 400)
      t.match(r.body, /flow_state_expired/)
      noPlainCode(t, r, 'SLOWCODE', `${late} ms`)
    }
    offsetMs = 0
  }
  // The same sealed state answered on a later request, after the TTL, with its cookie.
  const seen = atOnce((_p, _q, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('login') })
  const first = await authorize()
  const sealed = seen[0]!.get('state')!
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/login') return false
    res.writeHead(302, { location: `${RU}?code=SLOWCODE&state=${encodeURIComponent(sealed)}` }); res.end(); return true
  }
  offsetMs = 60_000
  const before = signed()
  const late = await fetch(`${stack.gatewayUrl}/login`, { redirect: 'manual', headers: { cookie: first.cookies } })
  const body = await late.text()
  t.equal(signed(), before, 'later request after the TTL: nothing signed')
  t.match(body, /flow_state_expired/)
})

t.test('odd parameter names (configured as extra): the claims are exactly what the legacy server sent, the gateway\'s own never overwritten', async (t) => {
  const extra: Array<[string, string]> = [['__proto__', 'P'], ['constructor', 'C'], ['toJSON', 'J'], ['hasOwnProperty', 'H'], ['valueOf', 'V'], ['0', 'zero']]
  atOnce((p, q, s) => {
    const answer = new URLSearchParams([['code', 'NAMECODE'], ...extra, ['aud', 'evil-client'], ['exp', '9999999999'], ['iat', '1'], ['iss', 'https://evil.example'], ['state', p.get('state')!]])
    redirect(`${RU}?${answer}`)(p, q, s)
  })
  const r = await authorize()
  const jwt = responseOf(r.location)
  t.ok(jwt, 'signed')
  if (jwt === undefined) return
  const claims = await claimsOf(jwt)
  for (const [name, value] of extra) t.equal(Object.getOwnPropertyDescriptor(claims, name)?.value, value, `${name} is an own claim with its value`)
  t.equal(claims['aud'], 'app1')
  t.equal(claims['iss'], stack.gatewayUrl)
  t.equal(claims['exp'], Math.floor(BASE_MS / 1000) + 120)
  t.equal(claims['iat'], Math.floor(BASE_MS / 1000))
  t.equal(claims['state'], 'client-state')
  // The payload's JSON has each name once.
  const json = Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')
  for (const name of ['aud', 'exp', 'iat', 'iss', 'state', '__proto__']) t.equal(json.split(`"${name}":`).length - 1, 1, `${name} once in the payload`)
  // Repeated names: refused rather than guessed.
  for (const repeated of ['code', '__proto__', 'toJSON', 'aud', 'error_description', 'iss']) {
    atOnce((p, q, s) => redirect(`${RU}?code=NAMECODE&${repeated}=a&${repeated}=b&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
    const before = signed()
    const rr = await authorize()
    t.equal(signed(), before, `${repeated} twice: nothing signed`)
    noPlainCode(t, rr, 'NAMECODE', `${repeated} twice`)
  }
})

t.test('remembered redirect_uri checks: a value seen before never changes how another is judged', async (t) => {
  const seen = atOnce((_p, _q, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('login') })
  const long = `https://client.example.org/${'a'.repeat(600)}`
  const bad = [
    `${RU}?state=x`, `${RU}?code=x`, `${RU}?response=x`, `${RU}#f`, `${RU} `, `${RU}?x=%0d%0a`.replace('%0d%0a', '\r\n'),
    `${long}?state=x`, `https://client.example.org/${'a'.repeat(3000)}?state=x`, `https://client.example.org/${'a'.repeat(3000)}#x`,
    `${RU}?STATE=x&state=y`, 'cb', `${RU}?a=1&code=2`,
  ]
  // Fill the memory with good values, interleaving the bad ones and wrapping the bound (64).
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 70; i++) await authorize({ redirect_uri: `${RU}${i}` })
    await authorize({ redirect_uri: long })
    for (const value of bad) {
      const r = await authorize({ redirect_uri: value })
      t.equal(r.status, 400, `round ${round}, ${JSON.stringify(value.slice(0, 60))}…: refused`)
    }
  }
  t.ok(seen.every((p) => !bad.includes(p.get('redirect_uri')!)), 'no bad redirect_uri reached the legacy server')
})

t.test('remembered endpoint parts: redirect_uris that differ only after many characters, in case, trailing dot, port', async (t) => {
  const prefix = `https://client.example.org/${'p'.repeat(2100)}`
  const pairs: Array<[string, string]> = [
    [`${prefix}/a`, `${prefix}/b`],
    [`https://client.example.org/${'q'.repeat(500)}/a`, `https://client.example.org/${'q'.repeat(500)}/b`],
    [`https://client.example.org/${'r'.repeat(2040)}`, `https://client.example.org/${'r'.repeat(2040)}x`],
    [RU, 'https://client.example.org./cb'],
    [RU, 'https://client.example.org:444/cb'],
    ['https://client.example.org/CB', RU],
    [`${RU}?x=${'1'.repeat(2100)}`, `${RU}?x=${'1'.repeat(2100)}2`],
  ]
  for (const [sealedFor, answeredTo] of pairs) {
    // First a flow answered to its own redirect_uri (the memory holds it), then one answered to the near twin.
    atOnce((p, q, s) => redirect(`${p.get('redirect_uri')!}${p.get('redirect_uri')!.includes('?') ? '&' : '?'}code=TWINCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
    const own = await authorize({ redirect_uri: sealedFor })
    t.ok(responseOf(own.location), `${sealedFor.slice(0, 50)}…: its own answer is signed`)
    atOnce((p, q, s) => redirect(`${answeredTo}${answeredTo.includes('?') ? '&' : '?'}code=TWINCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
    const before = signed()
    const r = await authorize({ redirect_uri: sealedFor })
    t.equal(signed(), before, `${answeredTo.slice(-30)}: a twin is not the flow's redirect_uri`)
    noPlainCode(t, r, 'TWINCODE', answeredTo.slice(-30))
    // And the other way round: the twin sealed, the first answered.
    atOnce((p, q, s) => redirect(`${sealedFor}${sealedFor.includes('?') ? '&' : '?'}code=TWINCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
    const before2 = signed()
    const r2 = await authorize({ redirect_uri: answeredTo })
    if (r2.status === 400 && /invalid_parameter/.test(r2.body)) continue
    t.equal(signed(), before2, `reverse ${answeredTo.slice(-30)}: not signed`)
    noPlainCode(t, r2, 'TWINCODE', `reverse ${answeredTo.slice(-30)}`)
  }
})

t.test('remembered Host answers: valid and invalid Hosts, mixed case, trailing dots, ports, long values', async (t) => {
  const { port } = new URL(stack.gatewayUrl)
  const valid = [`127.0.0.1:${port}`, 'Example.COM', 'example.com.', 'example.com:1', `${'a'.repeat(63)}.example`, `${'b'.repeat(299)}`, `${'b'.repeat(301)}`, '[::1]:80']
  const invalid = ['example.com:65536', 'example.com:99999', '1.2.3.999', '0x7f.1', 'a%2eb', 'exa mple.com', '[::1%25eth0]', 'ex@mple', '[::1', `${'c'.repeat(299)}:999999`, `${'c'.repeat(400)}:999999`, '127.0.0.1:1:1']
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) await rawRequest(stack.gatewayUrl, `GET /healthz HTTP/1.1\r\nHost: h${i}.example\r\nConnection: close\r\n\r\n`)
    for (const host of valid) {
      const r = await rawRequest(stack.gatewayUrl, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      t.not(r.body.includes('invalid_host'), true, `round ${round} ${host.slice(0, 40)}: accepted`)
    }
    for (const host of invalid) {
      const r = await rawRequest(stack.gatewayUrl, `GET /auth?x=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      t.equal(r.status, 400, `round ${round} ${host.slice(0, 40)}: refused`)
    }
  }
})

t.test('remembered Content-Type answers: one value never decides how another is read', async (t) => {
  const types = ['text/plain', 'text/plain, text/html', 'TEXT/HTML', 'text/html;charset=utf-8', 'application/json', 'text/plain;a="x,text/html"', 'image/svg+xml', 'text/plain,', 'text/plain, */*', `text/plain;x=${'y'.repeat(300)}, text/html`, `text/html;x=${'y'.repeat(300)}`]
  const documents = new Set(['text/plain, text/html', 'TEXT/HTML', 'text/html;charset=utf-8', 'image/svg+xml', `text/plain;x=${'y'.repeat(300)}, text/html`, `text/html;x=${'y'.repeat(300)}`])
  for (let round = 0; round < 3; round++) {
    for (const type of [...types, ...types.slice().reverse()]) {
      atOnce((p, _q, res) => { res.writeHead(200, { 'content-type': type }); res.end(`<form method=post action="${RU}"><input name=code value=TYPECODE><input name=state value="${p.get('state')!}"></form>`) })
      const r = await authorize()
      if (documents.has(type)) noPlainCode(t, r, 'TYPECODE', `round ${round} ${type.slice(0, 40)}`)
      t.not(r.status, 500)
    }
    // Ever new values wrap the memory.
    for (let i = 0; i < 40; i++) {
      atOnce((_p, _q, res) => { res.writeHead(200, { 'content-type': `text/x-${i}` }); res.end('x') })
      await authorize()
    }
  }
})

t.test('remembered response_type rules: one response_type never changes what another may carry', async (t) => {
  const rules: Array<[string, string, boolean]> = [
    ['code', 'code=RTCODE', true],
    ['code id_token', 'code=RTCODE', false],
    ['code', 'code=RTCODE&id_token=x.y.z', false],
    ['code id_token', 'code=RTCODE&id_token=x.y.z', true],
    ['code  id_token', 'code=RTCODE', false],
    ['id_token code', 'code=RTCODE', false],
    ['code token', 'code=RTCODE&access_token=RTCODE2&token_type=Bearer', true],
    ['code', 'code=RTCODE&access_token=RTCODE2', false],
    ['code x', 'code=RTCODE', false],
    ['none', 'code=RTCODE', false],
  ]
  for (let round = 0; round < 3; round++) {
    for (const [responseType, answer, ok] of rules) {
      atOnce((p, q, s) => redirect(`${RU}#${answer}&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
      const before = signed()
      const r = await authorize({ response_type: responseType, response_mode: 'fragment.jwt' })
      t.equal(signed(), before + (ok ? 1 : 0), `round ${round} ${responseType} / ${answer}: ${ok ? 'signed' : 'refused'}`)
      noPlainCode(t, r, 'RTCODE', `${responseType} / ${answer}`)
    }
    for (let i = 0; i < 20; i++) await authorize({ response_type: `code x${i}`, response_mode: 'fragment.jwt' })
  }
})

function jarmCounts (metrics: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const match of metrics.matchAll(/^jarm_gateway_jarm_responses_total\{([^}]*)\} (\d+)$/gm)) counts.set(match[1]!, Number(match[2]))
  return counts
}
const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0)

t.test('JARM counters: exact, not moved by failures, labels bounded whatever clients send', async (t) => {
  const before = jarmCounts(await (await fetch(`${stack.gatewayUrl}/metrics`)).text())
  let success = 0
  let errors = 0
  for (let i = 0; i < 30; i++) {
    const kind = i % 3
    atOnce((p, q, s) => redirect(kind === 0 ? `${p.get('redirect_uri')!}?code=M&state=${encodeURIComponent(p.get('state')!)}` : kind === 1 ? `${p.get('redirect_uri')!}?error=access_denied_${i}&error_description=${i}%0a}&state=${encodeURIComponent(p.get('state')!)}` : `${p.get('redirect_uri')!}?code=M&bogus_${i}=1&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
    const r = await authorize({ client_id: `client-${i}\n}`, redirect_uri: `https://c${i}.example/cb`, state: `s${i}"}` })
    if (kind === 0) { success++; t.ok(responseOf(r.location), `flow ${i} signed`) }
    if (kind === 1) { errors++; t.ok(responseOf(r.location), `flow ${i} error signed`) }
  }
  const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text()
  const after = jarmCounts(metrics)
  t.equal(total(after) - total(before), success + errors, 'one count per response delivered, none for failures')
  const outcomes = new Map<string, number>()
  for (const [labels, count] of after) {
    const outcome = /outcome="([^"]*)"/.exec(labels)?.[1] ?? '?'
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + count - (before.get(labels) ?? 0))
  }
  t.equal(outcomes.get('success'), success)
  t.equal(outcomes.get('error'), errors)
  t.ok(after.size <= 8, `label sets bounded (${after.size})`)
  t.notMatch(metrics, /client-|access_denied_|c\d+\.example/, 'nothing a client sent becomes a label')
  // A scrape does not change the counts.
  const again = jarmCounts(await (await fetch(`${stack.gatewayUrl}/metrics`)).text())
  t.same([...again], [...after], 'scraping twice gives the same counts')
})

t.test('replays of a sealed state across requests, browsers and clients', async (t) => {
  const seen = atOnce((_p, _q, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('login') })
  const first = await authorize()
  const sealed = seen[0]!.get('state')!
  // Replayed as the state of another client's plain request, answered at once, without the cookie.
  atOnce((p, q, s) => redirect(`https://other.example/cb?code=REPLAYCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
  let before = signed()
  let r = await authorize({ client_id: 'hs', redirect_uri: 'https://other.example/cb', response_mode: 'query', state: sealed })
  t.equal(signed(), before, 'no cookie: nothing signed')
  t.notOk(r.location.includes('response='))
  // Replayed as the client's own state of a new JWT flow: sealed again inside, never opened as the first.
  atOnce((p, q, s) => redirect(`${RU}?code=REPLAYCODE&state=${encodeURIComponent(p.get('state')!)}`)(p, q, s))
  r = await authorize({ state: sealed })
  const claims = await claimsOf(responseOf(r.location)!)
  t.equal(claims['state'], sealed, 'the client\'s own state comes back byte for byte')
  // Replayed in another browser after the legacy server redirects to the redirect_uri.
  atOnce(redirect(`${RU}?code=REPLAYCODE&state=${encodeURIComponent(sealed)}`))
  before = signed()
  r = await authorize({ client_id: 'hs', redirect_uri: 'https://third.example/cb', state: 'other' })
  t.equal(signed(), before, 'another flow\'s request, no cookie for the replayed state: nothing signed')
  noPlainCode(t, r, 'REPLAYCODE', 'replay in another browser')
  // With the first browser's cookie: the first flow's own response, for its client only.
  before = signed()
  r = await authorize({ client_id: 'hs', redirect_uri: 'https://third.example/cb', state: 'other' }, { cookie: first.cookies })
  const jwt = responseOf(r.location)
  if (jwt !== undefined) {
    const c = await claimsOf(jwt)
    t.same([c['aud'], c['state']], ['app1', 'client-state'], 'signed only as the flow it was sealed for')
    t.ok(r.location.startsWith(`${RU}?`))
  }
})

t.test('smuggling and absolute-form targets never carry an unrewritten JWT mode', async (t) => {
  const seen = atOnce((_p, _q, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }); res.end('ok') })
  const { host } = new URL(stack.gatewayUrl)
  const jwtQuery = 'client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&response_mode=query.jwt&state=own'
  const hidden = `GET /auth?${jwtQuery} HTTP/1.1\r\nHost: ${host}\r\n\r\n`
  const attempts = [
    `POST /x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${hidden.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: xchunked\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
    `GET /x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
    `GET http://evil.example/auth?${jwtQuery} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET HTTP://${host}/auth?${jwtQuery} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET http://${host}//auth?${jwtQuery} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET http://${host}/%61uth?${jwtQuery} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /auth?${jwtQuery} HTTP/1.1\r\nHost: ${host}?response_mode=query\r\n\r\n`,
  ]
  for (const attempt of attempts) {
    const r = await rawRequest(stack.gatewayUrl, attempt, 3000)
    t.not(r.status, 500, `${attempt.slice(0, 40)}: no 500`)
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  for (const p of seen) {
    t.not(p.get('response_mode'), 'query.jwt', 'no JWT mode reached the legacy server')
    if (p.get('state') !== null) t.match(p.get('state')!, /^jg1\./, 'the state it got is sealed')
  }
})

t.test('found by this review: on the very request that sealed a flow, a code to its redirect_uri with a state that is not the sealed one fails closed', async (t) => {
  // The gateway knows this request sealed a JWT flow for this redirect_uri; a plain credential of it must not travel.
  const cases: Array<[string, (sealed: string) => string]> = [
    ['no state at all', () => `${RU}?code=PLAINCODE`],
    ['the client\'s own state', () => `${RU}?code=PLAINCODE&state=client-state`],
    ['sealed state with its prefix upper-cased', (s) => `${RU}?code=PLAINCODE&state=${encodeURIComponent(`JG1.${s.slice(4)}`)}`],
    ['sealed state with a leading space', (s) => `${RU}?code=PLAINCODE&state=%20${encodeURIComponent(s)}`],
    ['sealed state with a leading +', (s) => `${RU}?code=PLAINCODE&state=+${encodeURIComponent(s)}`],
  ]
  for (const [what, location] of cases) {
    atOnce((p, q, s) => redirect(location(p.get('state')!))(p, q, s))
    const r = await authorize()
    t.notOk(r.status === 302 && r.location.startsWith(RU) && r.location.includes('PLAINCODE'), `${what}: the flow's code does not reach its redirect_uri in plain (status ${r.status}, ${r.location.slice(0, 60)})`)
  }
})

t.test('found by this review, the same in a Refresh header and in pages: a form or meta refresh sending a credential to the redirect_uri without the sealed state', async (t) => {
  const page = (html: string): Answer => (_p, _req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end(html) }
  const refused: Array<[string, Answer]> = [
    ['a Refresh header', (_p, _req, res) => { res.writeHead(200, { refresh: `0; url=${RU}?code=PLAINCODE`, 'content-type': 'text/plain' }); res.end('') }],
    ['a form posting a code, no state', page(`<html><body><form method="post" action="${RU}"><input type="hidden" name="code" value="PLAINCODE"></form></body></html>`)],
    ['a form posting a token with the client\'s own state, upper-case tags', page(`<HTML><BODY><FORM METHOD=POST ACTION='${RU}'><INPUT TYPE=hidden NAME=access_token VALUE=PLAINCODE><INPUT NAME=state VALUE=client-state></FORM></BODY></HTML>`)],
    ['a form whose action is relative to a <base>', page(`<html><head><base href="https://client.example.org/"></head><body><form method="post" action="cb"><input name="id_token" value="PLAINCODE"></form></body></html>`)],
    ['a meta refresh carrying a code in the fragment', page(`<html><head><meta http-equiv="refresh" content="0;url=${RU}#code=PLAINCODE"></head></html>`)],
  ]
  for (const [what, answer] of refused) {
    atOnce(answer)
    const before = signed()
    const r = await authorize()
    t.equal(r.status, 502, `${what}: refused`)
    t.match(r.body, /capture_failed/, what)
    noPlainCode(t, r, 'PLAINCODE', what)
    t.equal(signed(), before, `${what}: nothing signed`)
  }
  const passed: Array<[string, Answer]> = [
    ['a login page whose form posts to the legacy server', page('<html><body><form method="post" action="/login"><input name="code" value="otp-123"><input name="user"></form></body></html>')],
    ['a page with a form to the redirect_uri that hands over no credential', page(`<html><body><form method="get" action="${RU}"><input name="error" value="login_required"></form></body></html>`)],
    ['a page without any form or meta tag that names the redirect_uri', page(`<html><body><a href="${RU}?code=x">back</a></body></html>`)],
  ]
  for (const [what, answer] of passed) {
    atOnce(answer)
    const r = await authorize()
    t.equal(r.status, 200, `${what}: passed on, as it hands nothing to the redirect_uri by itself`)
  }
})

