// Security review, redirects and flow state: the gateway only ever answers the redirect_uri the flow
// was sealed for, in the place the legacy server vouched for; a sealed state replayed for another
// client or redirect_uri, tampered, truncated, expired or never sealed is never signed.
import t from 'tap'
import { decodeJwt } from 'jose'
import { bindingCookieName } from '../../src/flow-state/browser-binding.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { gatewayKeySet, plainAnswer, runFlow, startFakeStack, verifyResponse, type FakeStack } from '../helpers/fake-stack.js'
import { STATE_SECRET } from '../helpers/stack.js'

let clockOffsetMs = 0
const stack = await startFakeStack({ now: () => Date.now() + clockOffsetMs })
t.teardown(() => stack.close())
const keys = await gatewayKeySet(stack.gatewayUrl)

/** The legacy server answers the authorization request itself with `location(parameters)`. */
function legacyRedirects (fake: FakeStack, location: (parameters: URLSearchParams) => string): void {
  fake.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: location(url.searchParams) })
    res.end()
    return true
  }
}

async function authorize (parameters: Record<string, string>): Promise<Response> {
  const query = new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example.org/cb', response_mode: 'query.jwt', state: 'client-state', ...parameters })
  return fetch(`${stack.gatewayUrl}/auth?${query}`, { redirect: 'manual' })
}

const signed = (): number => stack.logs.filter((line) => line['event'] === 'jarm.response').length

t.test('the legacy server redirecting a sealed flow anywhere but its redirect_uri: never signed, never redirected to the redirect_uri', async (t) => {
  t.teardown(() => { stack.script = undefined })
  const elsewhere = [
    'https://evil.example/cb', 'https://client.example.org.evil.example/cb', 'https://client.example.org/cb/../evil',
    'https://client.example.org/cb2', 'http://client.example.org/cb', 'https://client.example.org:8443/cb',
    '//evil.example/cb', '/\\evil.example/cb', 'https://evil.example\\@client.example.org/cb', 'https://client.example.org@evil.example/cb',
  ]
  for (const target of elsewhere) {
    legacyRedirects(stack, (p) => `${target}${target.includes('?') ? '&' : '?'}code=stolen&state=${encodeURIComponent(p.get('state')!)}`)
    const before = signed()
    const response = await authorize({})
    const location = response.headers.get('location') ?? ''
    t.equal(signed(), before, `${target}: nothing signed`)
    t.notMatch(location, /response=/, `${target}: no JARM response`)
    t.notOk(location.startsWith('https://client.example.org/cb?'), `${target}: not sent to the flow's redirect_uri`)
    t.not(response.status, 500)
  }
})

t.test('redirect_uri tricks sent by the client: the answer goes where the legacy server sent it, or nowhere', async (t) => {
  t.teardown(() => { stack.script = undefined })
  // A lenient legacy server that parses the redirect_uri and redirects to what it understood.
  legacyRedirects(stack, (p) => {
    const target = new URL(p.get('redirect_uri')!)
    target.searchParams.append('code', 'c0de')
    target.searchParams.append('state', p.get('state')!)
    return target.href
  })
  const tricks = [
    'https://client.example.org//cb', 'https://client.example.org\\cb', 'https://client.example.org\\@evil.example/cb',
    'https://user:pass@client.example.org/cb', 'https://client.example.org@evil.example/cb', 'https://client.example.org/cb#frag',
    'https://client.example.org/cb#@evil.example', 'https://evil.example#@client.example.org/cb', 'https://client.example.org%2F@evil.example/cb',
    'https://CLIENT.example.org:443/cb', 'https://client.example.org/cb?redirect=https://evil.example', 'javascript://client.example.org/%0aalert(1)',
    'https://client.example.org/%2e%2e/evil', 'https://0x7f.1/cb', 'https://[::1]/cb', 'https://xn--80ak6aa92e.com/cb',
  ]
  for (const trick of tricks) {
    const response = await authorize({ redirect_uri: trick })
    const location = response.headers.get('location')
    t.not(response.status, 500, `${trick}: no 500`)
    if (location === null || !location.includes('response=')) continue
    // Where the browser goes (a browser resolves the Location with the WHATWG parser, as here).
    const delivered = new URL(location)
    const vouched = new URL(trick)
    t.equal(delivered.origin, vouched.origin, `${trick}: the origin the legacy server redirected to`)
    t.equal(delivered.pathname, vouched.pathname, `${trick}: the path the legacy server redirected to`)
    t.equal(delivered.username + delivered.password, vouched.username + vouched.password, `${trick}: no user info appears`)
    t.equal(delivered.hash, '', `${trick}: a query.jwt response carries no fragment`)
    const claims = (await verifyResponse(delivered.searchParams.get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })).payload
    t.equal(claims['code'], 'c0de')
  }
})

t.test('a redirect_uri carrying control characters, spaces or non-ASCII is refused before the legacy server sees it', async (t) => {
  t.teardown(() => { stack.script = undefined })
  // A legacy server that normalises the redirect_uri (the WHATWG parser drops tabs and newlines).
  legacyRedirects(stack, (p) => { const u = new URL(p.get('redirect_uri')!); u.searchParams.set('code', 'c'); u.searchParams.set('state', p.get('state')!); return u.href })
  for (const uri of ['https://client.example.org/cb\r\nSet-Cookie: a=b', 'https://client.exam\tple.org/cb', 'https://client.example.org/c b', 'https://client.example.org/cb\u0000', 'https://client.example.org/cé', 'https://client.example.org/cb\u2028']) {
    const before = signed()
    const response = await authorize({ redirect_uri: uri })
    t.equal(response.status, 400, encodeURIComponent(uri))
    t.match(await response.text(), /parameter redirect_uri must be an absolute URL/)
    t.equal(response.headers.get('set-cookie'), null)
    t.equal(signed(), before)
  }
})

const flow = { mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://client.example.org/cb', responseType: 'code', state: 'client-state' } as const

/**
 * A legacy answer carrying `state` (sealed or not) to `target`, arriving on a later request as after
 * a login page, in a browser that holds the cookie binding that state to it (as the browser that
 * started the flow would).
 */
async function answerWith (state: string, target = 'https://client.example.org/cb'): Promise<Response> {
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/login-done') return false
    res.writeHead(302, { location: `${target}?code=c0de&state=${encodeURIComponent(state)}` })
    res.end()
    return true
  }
  return fetch(`${stack.gatewayUrl}/login-done`, { redirect: 'manual', headers: { cookie: `${bindingCookieName(state, false)}=${state}` } })
}

t.test('sealed states that must never become a response', async (t) => {
  t.teardown(() => { stack.script = undefined; clockOffsetMs = 0 })
  const sealer = new FlowStateSealer([STATE_SECRET], 1800)
  const good = sealer.seal(flow)
  const cases: Array<[string, string, RegExp]> = [
    ['tampered', good.slice(0, 30) + (good[30] === 'A' ? 'B' : 'A') + good.slice(31), /flow_state_invalid/],
    ['truncated', good.slice(0, -5), /flow_state_invalid/],
    ['truncated to the prefix', 'jg1.', /flow_state_invalid/],
    ['another secret', new FlowStateSealer(['another-secret-that-is-long-enough-0123456789'], 1800).seal(flow), /flow_state_invalid/],
    ['not base64url', 'jg1.<script>alert(1)</script>', /flow_state_invalid/],
  ]
  for (const [name, state, error] of cases) {
    const before = signed()
    const response = await answerWith(state)
    t.equal(response.status, 400, name)
    t.equal(response.headers.get('location'), null, `${name}: no redirect`)
    const text = await response.text()
    t.match(text, error, name)
    t.notMatch(text, /c0de/, `${name}: the code is not shown`)
    t.equal(signed(), before, `${name}: nothing signed`)
  }
  clockOffsetMs = 1801 * 1000
  const expired = await answerWith(good)
  t.equal(expired.status, 400)
  t.match(await expired.text(), /flow_state_expired/)
  clockOffsetMs = 0
  const fresh = await answerWith(good)
  t.equal(fresh.status, 303, 'the untouched one is answered')
  t.match(fresh.headers.get('location'), /^https:\/\/client\.example\.org\/cb\?response=/)
})

t.test('a sealed state replayed for another redirect_uri or another client is not this flow\'s response', async (t) => {
  t.teardown(() => { stack.script = undefined })
  const sealer = new FlowStateSealer([STATE_SECRET], 1800)
  const before = signed()
  // Sealed for app1 at /cb, answered by the legacy server to app2's redirect_uri.
  const replayed = await answerWith(sealer.seal(flow), 'https://app2.example.org/callback')
  t.equal(signed(), before, 'nothing signed')
  t.notMatch(replayed.headers.get('location') ?? '', /response=/)
  t.equal(replayed.status, 502, 'and the code it carries does not travel in plain')
  // A genuine flow sealed for app2 is signed for app2 only: aud is the sealed client, never another.
  const app2 = sealer.seal({ ...flow, clientId: 'app2', redirectUri: 'https://app2.example.org/callback' })
  const answered = await answerWith(app2, 'https://app2.example.org/callback')
  const location = new URL(answered.headers.get('location')!)
  t.equal(location.origin + location.pathname, 'https://app2.example.org/callback')
  const claims = decodeJwt(location.searchParams.get('response')!)
  t.equal(claims.aud, 'app2')
  await t.rejects(verifyResponse(location.searchParams.get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256', 'RS256'] }), 'not a response for app1')
})

t.test('a response for a flow the gateway did not seal passes through unsigned and untouched', async (t) => {
  t.teardown(() => { stack.script = undefined })
  const before = signed()
  for (const state of ['plain-client-state', 'jg1', 'JG1.abc', ' jg1.abc', 'xjg1.abc']) {
    const response = await answerWith(state)
    t.equal(response.status, 302, state)
    t.equal(response.headers.get('location'), `https://client.example.org/cb?code=c0de&state=${encodeURIComponent(state)}`)
  }
  t.equal(signed(), before)
  // A plain flow through the fake, end to end: untouched too.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    plainAnswer(res, url.searchParams)
    return true
  }
  const plain = await fetch(`${stack.gatewayUrl}/auth?client_id=app1&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&state=s1`, { redirect: 'manual' })
  t.match(plain.headers.get('location'), /^https:\/\/client\.example\.org\/cb\?code=[\w-]+&state=s1$/)
})

t.test('a complete flow still works after all of this (the suite tests refusals, not a broken gateway)', async (t) => {
  const result = await runFlow(stack.gatewayUrl, { mode: 'query.jwt', state: 'abc' })
  const { payload } = await verifyResponse(result.response, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
  t.equal(payload['state'], 'abc')
})

t.test('an answer on the request that sealed the flow: only the very string sealed is taken as that flow, and only until it expires', async (t) => {
  t.teardown(() => { stack.script = undefined; clockOffsetMs = 0 })
  // The exact sealed state, answered at once: the JARM response of the flow the client asked for.
  legacyRedirects(stack, (p) => `https://client.example.org/cb?code=c0de&state=${encodeURIComponent(p.get('state')!)}`)
  const answered = await authorize({})
  const claims = (await verifyResponse(new URL(answered.headers.get('location')!).searchParams.get('response')!, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })).payload
  t.same([claims['code'], claims['state']], ['c0de', 'client-state'])
  // One character changed in the state the request just sealed: opened like any other, refused.
  legacyRedirects(stack, (p) => {
    const sealed = p.get('state')!
    const changed = sealed.slice(0, 30) + (sealed[30] === 'A' ? 'B' : 'A') + sealed.slice(31)
    return `https://client.example.org/cb?code=c0de&state=${encodeURIComponent(changed)}`
  })
  let before = signed()
  const tampered = await authorize({})
  t.equal(tampered.status, 400)
  t.match(await tampered.text(), /flow_state_invalid/)
  t.equal(signed(), before, 'nothing signed')
  // A legacy server that takes longer than the flow may live before it answers the very request.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    clockOffsetMs = 1801 * 1000
    res.writeHead(302, { location: `https://client.example.org/cb?code=c0de&state=${encodeURIComponent(url.searchParams.get('state')!)}` })
    res.end()
    return true
  }
  before = signed()
  const late = await authorize({})
  t.equal(late.status, 400)
  t.match(await late.text(), /flow_state_expired/)
  t.equal(signed(), before, 'nothing signed')
})
