// The pure rules behind the attack review's fixes, case by case: what an authorization response
// may carry, exact endpoint comparison, where a sealed answer may go, the browser binding cookie,
// and the consent form that posts the gateway's rewrite back.
import t from 'tap'
import { planAuthorizationRequest, planResumedRequest, type AuthorizationRequestPolicy } from '../../src/authorization-request/plan-authorization-request.js'
import { captureFormPost } from '../../src/capture/form-post-capture.js'
import { endpointOf, judgeSealedAnswer, sameEndpoint } from '../../src/capture/redirect-capture.js'
import { carriesCredential, checkResponseParameters, RESPONSE_PARAMETER_NAMES } from '../../src/capture/response-parameters.js'
import { bindingCookie, bindingCookieName, boundStates, clearingCookie, evictedBindings, hasFlowCookies, isBoundHere, MAX_BOUND_FLOWS, MAX_INLINE_SEALED_STATE_LENGTH, pushedFlowCookie, withoutBindingCookies } from '../../src/flow-state/browser-binding.js'
import { FlowStateSealer, type Flow } from '../../src/flow-state/sealed-state.js'

const NONE = new Set<string>()

t.test('what an authorization response of a response_type may carry', async (t) => {
  t.same(checkResponseParameters('code', [['code', 'c'], ['state', 's'], ['iss', 'i'], ['session_state', 'x'], ['scope', 'openid']], NONE), { ok: true })
  t.same(checkResponseParameters('code', [['error', 'access_denied'], ['error_description', 'no'], ['error_uri', 'u'], ['state', 's']], NONE), { ok: true }, 'an error answers any response type')
  t.same(checkResponseParameters('code id_token token', [['code', 'c'], ['id_token', 'i'], ['access_token', 'a'], ['token_type', 'Bearer'], ['expires_in', '60']], NONE), { ok: true })
  t.same(checkResponseParameters('none', [['state', 's']], NONE), { ok: true }, 'none returns nothing but state')
  t.same(checkResponseParameters('code', [['code', 'c'], ['x', '1']], new Set(['x'])), { ok: true }, 'an operator-listed name is carried')
  t.match(checkResponseParameters('code', [['code', 'c'], ['client_id', 'a'], ['redirect_uri', 'b']], NONE), { ok: false, reason: /cannot carry parameters client_id, redirect_uri/ })
  t.match(checkResponseParameters('code', [['code', 'c'], ['access_token', 'a']], NONE), { ok: false, reason: /cannot carry parameter access_token$/ })
  t.match(checkResponseParameters('token', [['access_token', 'a']], NONE), { ok: false, reason: /needs token_type or an error/ })
  t.match(checkResponseParameters('code', [['error', 'e'], ['code', 'c']], NONE), { ok: false, reason: /an error response cannot also carry code/ })
  t.match(checkResponseParameters('token', [['error', 'e'], ['token_type', 'Bearer'], ['expires_in', '1']], NONE), { ok: false, reason: /cannot also carry token_type, expires_in/ })
  t.match(checkResponseParameters('', [['code', 'c']], NONE), { ok: false, reason: /cannot carry parameter code/ })
  t.match(checkResponseParameters('', [['state', 's']], NONE), { ok: false, reason: /needs a response type or an error/ })
  t.same(checkResponseParameters('code', [['error', 'e']], NONE), { ok: true })
  t.match(checkResponseParameters('frobnicate', [['state', 's']], NONE), { ok: false }, 'an unknown response type is answered by an error only')
  t.match(checkResponseParameters('__proto__', [['code', 'c']], NONE), { ok: false }, 'no prototype lookup')
  t.ok(carriesCredential([['id_token', 'x']]))
  t.notOk(carriesCredential([['state', 'x'], ['error', 'e']]))
  for (const name of ['state', 'response', 'code', 'error', 'iss']) t.ok(RESPONSE_PARAMETER_NAMES.has(name), name)
})

t.test('endpoints compare whole, custom schemes included', async (t) => {
  t.equal(endpointOf(new URL('com.example.app:/cb?x=1#f')), 'com.example.app:/cb')
  t.equal(endpointOf(new URL('https://a.example/cb#f?x')), 'https://a.example/cb')
  t.equal(endpointOf(new URL('https://user@a.example:443/cb')), 'https://user@a.example/cb')
  t.notOk(sameEndpoint(new URL('com.evil.app:/cb'), 'com.victim.app:/cb'), 'the opaque origin "null" is never compared')
  t.notOk(sameEndpoint(new URL('https://evil@a.example/cb'), 'https://a.example/cb'), 'userinfo counts')
  t.ok(sameEndpoint(new URL('HTTPS://A.example:443/cb?code=1'), 'https://a.example/cb'), 'as the browser serialises both')
  t.ok(sameEndpoint(new URL('urn:example:app?x'), 'urn:example:app'))
})

const sealer = new FlowStateSealer(['a-test-secret-for-sealing-flow-state-0123456789'], 600)
const FLOW: Flow = { mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://client.example/cb', responseType: 'code', state: 's' }
const sealed = sealer.seal(FLOW)
const ON_FLOW = { publicOrigins: new Set(['https://id.example']), onFlowPath: true, extraResponseParameters: NONE }

t.test('where an answer carrying a sealed flow may go', async (t) => {
  const judge = (target: string, all: Array<[string, string]>, context = ON_FLOW): ReturnType<typeof judgeSealedAnswer> =>
    judgeSealedAnswer(FLOW, sealed, new URL(target), all, () => all, context)
  t.match(judge('https://client.example/cb', [['code', 'c'], ['state', sealed]]), { kind: 'capture', sealedState: sealed })
  t.same(judge('https://id.example/login', [['code', 'c'], ['state', sealed]]), { kind: 'not_a_response' }, 'the gateway\'s own origin: a login page')
  t.same(judge('https://elsewhere.example/x', [['state', sealed]]), { kind: 'not_a_response' }, 'elsewhere without a credential')
  t.match(judge('https://elsewhere.example/x', [['code', 'c']]), { kind: 'unreadable', reason: /not its redirect_uri/ })
  t.match(judge('https://client.example/cb', [['code', 'c']], { ...ON_FLOW, onFlowPath: false }), { kind: 'unreadable', reason: /outside the authorization flow/ })
  t.same(judge('https://client.example/cb', [['state', sealed]], { ...ON_FLOW, onFlowPath: false }), { kind: 'not_a_response' }, 'a logout redirect with only the state passes on')
  t.match(judgeSealedAnswer(FLOW, sealed, new URL('https://client.example/cb'), [], () => undefined, ON_FLOW), { kind: 'unreadable', reason: /own query/ })
  t.same(captureFormPost(`<form action="http://[bad"><input name="state" value="${sealed}"><input name="code" value="c"></form>`, 'https://id.example/auth', (s) => sealer.open(s), ON_FLOW), { kind: 'not_a_response' }, 'a form whose action does not parse is never submitted')
})

t.test('the browser binding cookie', async (t) => {
  t.match(bindingCookie(sealed, true, 600), /^__Host-jarm-gw-[A-Za-z0-9_-]{16}=jg1\.[^;]+; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=None$/)
  t.match(bindingCookie(sealed, false, 600), /^jarm-gw-[A-Za-z0-9_-]{16}=jg1\.[^;]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/)
  t.match(clearingCookie(sealed, true), /^__Host-jarm-gw-[\w-]{16}=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=None$/)
  t.match(clearingCookie(sealed, false), /Max-Age=0; Path=\/; HttpOnly; SameSite=Lax$/)
  const name = bindingCookieName(sealed, false)
  t.ok(isBoundHere(`a=b; ${name}=${sealed}`, sealed, false))
  t.notOk(isBoundHere(`${name}=${sealed}x`, sealed, false), 'another value')
  t.notOk(isBoundHere(`${name}=${sealed.slice(0, -1)}A`, sealed, false), 'same length, another value')
  t.notOk(isBoundHere(`${name}=${sealed}`, sealed, true), 'the Secure name differs')
  t.notOk(isBoundHere(undefined, sealed, false))
  t.notOk(isBoundHere('', sealed, false))
  t.same(boundStates(`lang=en; ${name}=${sealed}; broken; __Host-jarm-gw-AAAAAAAAAAAAAAAA=v2; jarm-gw-short=x`), [sealed, 'v2'])
  t.equal(withoutBindingCookies('a=1; b=2'), 'a=1; b=2')
  t.equal(withoutBindingCookies(`${name}=${sealed}`), undefined)
  t.equal(withoutBindingCookies(`a=1;${name}=${sealed}; flag; jarm-gw-other=kept`), 'a=1; flag; jarm-gw-other=kept')
  const long = sealer.seal({ ...FLOW, state: 'x'.repeat(MAX_INLINE_SEALED_STATE_LENGTH) })
  t.match(bindingCookie(long, false, 60), /^jarm-gw-[\w-]{16}=-; /, 'a long sealed state: only its name binds, so cookies stay small')
  t.ok(isBoundHere(`${bindingCookieName(long, false)}=-`, long, false))
  t.notOk(isBoundHere(`${bindingCookieName(long, false)}=${long}`, long, false))
  t.same(boundStates(`${bindingCookieName(long, false)}=-`), [], 'no flow to read from a short cookie')
  t.match(pushedFlowCookie(true, 60), /^__Host-jarm-gw-pushed=1; Max-Age=60; Path=\/; HttpOnly; Secure; SameSite=None$/)
  t.ok(hasFlowCookies('a=1; jarm-gw-pushed=1'))
  t.ok(hasFlowCookies(`${name}=${sealed}`))
  t.notOk(hasFlowCookies('a=1; jarm-gw-other=1'))
  t.notOk(hasFlowCookies(undefined))
  t.equal(withoutBindingCookies('jarm-gw-pushed=1; __Host-jarm-gw-pushed=1; a=1'), 'a=1')
  const names = Array.from({ length: MAX_BOUND_FLOWS + 1 }, (_, i) => `jarm-gw-${String(i).padStart(16, 'A')}`)
  const evicted = evictedBindings(names.map((n) => `${n}=v`).join('; '), false)
  t.same(evicted.map((c) => c.split('=')[0]), names.slice(0, 2), 'the oldest go, so the new one makes MAX_BOUND_FLOWS')
  t.same(evictedBindings(names.slice(0, MAX_BOUND_FLOWS - 1).map((n) => `${n}=v`).join('; '), false), [])
  t.same(evictedBindings(undefined, true), [])
})

const policy: AuthorizationRequestPolicy = {
  offeredModes: new Set(['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt']),
  upstreamModePreference: 'auto',
  isEncryptedFor: () => false,
  redirectUrisFor: (id) => id === 'listed' ? ['https://listed.example/cb'] : [],
}

t.test('redirect_uri rules', async (t) => {
  const request = (extra: Record<string, string>): Array<[string, string]> => [...new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: 'https://c.example/cb', response_mode: 'query.jwt', ...extra })]
  t.throws(() => planAuthorizationRequest(request({ redirect_uri: 'https://c.example/cb?iss=x' }), policy, sealer), { code: 'invalid_parameter', message: /named iss/ })
  t.throws(() => planAuthorizationRequest(request({ redirect_uri: 'https://c.example/cb#x' }), policy, sealer), { code: 'invalid_parameter', message: /fragment/ })
  t.equal(planAuthorizationRequest(request({ redirect_uri: 'https://c.example/cb?tenant=t' }), policy, sealer).kind, 'jarm', 'an own query of other names is fine')
  t.throws(() => planAuthorizationRequest(request({ client_id: 'listed' }), policy, sealer), { code: 'redirect_uri_not_allowed' })
  t.equal(planAuthorizationRequest(request({ client_id: 'listed', redirect_uri: 'https://listed.example/cb' }), policy, sealer).kind, 'jarm')
  const pushed = planAuthorizationRequest(request({}), policy, sealer, 'pushed')
  t.equal(pushed.kind === 'jarm' ? sealer.open(pushed.sealedState).pushed : undefined, true, 'a pushed flow says so in its sealed state')
})

t.test('a consent form posting the gateway\'s rewrite back with the client\'s query', async (t) => {
  const original = { client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example/cb', response_mode: 'jwt', state: 's', scope: 'openid' }
  const query = [...new URLSearchParams(original)]
  const body = [...new URLSearchParams({ ...original, response_mode: 'query', state: sealed })]
  const open = (value: string): Flow => sealer.open(value)
  t.same(planResumedRequest(query, body, open), [['client_id', 'app1'], ['response_type', 'code'], ['redirect_uri', 'https://client.example/cb'], ['response_mode', 'query'], ['state', sealed], ['scope', 'openid']])
  const refused: Array<[string, Array<[string, string]>, Array<[string, string]>]> = [
    ['no query', [], body],
    ['no body', query, []],
    ['a repeated parameter', [...query, ['scope', 'x']], body],
    ['a plain state in the body', query, body.map(([n, v]) => [n, n === 'state' ? 'plain' : v])],
    ['no mode in the body', query, body.filter(([n]) => n !== 'response_mode')],
    ['a JWT mode in the body', query, body.map(([n, v]) => [n, n === 'response_mode' ? 'query.jwt' : v])],
    ['a sealed state that does not open', query, body.map(([n, v]) => [n, n === 'state' ? 'jg1.AAAA' : v])],
    ['another client', query.map(([n, v]) => [n, n === 'client_id' ? 'app2' : v]), body],
    ['another state', query.map(([n, v]) => [n, n === 'state' ? 'other' : v]), body],
    ['a plain mode in the query', query.map(([n, v]) => [n, n === 'response_mode' ? 'query' : v]), body],
    ['another JWT mode', query.map(([n, v]) => [n, n === 'response_mode' ? 'form_post.jwt' : v]), body],
    ['no mode in the query', query.filter(([n]) => n !== 'response_mode'), body],
    ['another value elsewhere', query, body.map(([n, v]) => [n, n === 'scope' ? 'openid email' : v])],
  ]
  for (const [name, q, b] of refused) t.equal(planResumedRequest(q, b, open), undefined, name)
  t.ok(planResumedRequest(query.filter(([n]) => n !== 'scope'), body, open), 'a parameter only in the body is fine')
})
