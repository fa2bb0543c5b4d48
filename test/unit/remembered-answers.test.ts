// The request path remembers a few answers that are functions of one string (a Content-Type, a
// redirect_uri, a response_type, a Host): the answers must stay exactly what working them out gives,
// past the bound where the memory is cleared, and for values too long to be kept.
import t from 'tap'
import { planAuthorizationRequest } from '../../src/authorization-request/plan-authorization-request.js'
import { parseParameters } from '../../src/authorization-request/parameters.js'
import { matchesRedirectUri, responseParametersOf, sameEndpoint } from '../../src/capture/redirect-capture.js'
import { checkResponseParameters } from '../../src/capture/response-parameters.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { isValidHost } from '../../src/http/request-target.js'
import { mayRenderAsDocument } from '../../src/http/document-type.js'

const NONE = new Set<string>()

t.test('Content-Type: the same answers before and after the memory is full, and for long values', async (t) => {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 40; i++) {
      t.equal(mayRenderAsDocument(`application/x-${i}+json`), false)
      t.equal(mayRenderAsDocument(`application/x-${i}+xml`), true)
    }
    t.equal(mayRenderAsDocument('text/html; charset=utf-8'), true)
    t.equal(mayRenderAsDocument('application/json'), false)
  }
  const padding = ` ; x=${'a'.repeat(300)}`
  t.equal(mayRenderAsDocument(`application/json${padding}`), false, 'a long value is still judged')
  t.equal(mayRenderAsDocument(`text/html${padding}`), true)
  t.equal(mayRenderAsDocument(`application/json${padding}`), false, 'and judged again, not remembered wrong')
  t.equal(mayRenderAsDocument(undefined), true, 'no Content-Type: a browser sniffs')
})

t.test('Host: a valid value is remembered, an invalid one never is', async (t) => {
  t.ok(isValidHost('gateway.example:8443'))
  t.ok(isValidHost('gateway.example:8443'), 'the remembered one')
  t.notOk(isValidHost('gateway.example:99999'))
  t.notOk(isValidHost('0x7f.1'))
  t.ok(isValidHost('gateway.example:8443'), 'still valid after invalid ones')
  t.notOk(isValidHost('0x7f.1'), 'an invalid one stays invalid after a valid one')
})

t.test('redirect_uri parts: comparisons stay exact past the bound', async (t) => {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 80; i++) {
      const redirectUri = `https://client${i}.example/cb?tenant=${i}`
      t.ok(sameEndpoint(new URL(`https://client${i}.example/cb?code=1`), redirectUri))
      t.notOk(sameEndpoint(new URL(`https://client${i + 1}.example/cb`), redirectUri))
      t.ok(matchesRedirectUri(redirectUri, 'https://gw.example/', redirectUri))
      t.notOk(matchesRedirectUri(`https://client${i}.example/cb?tenant=${i + 1}`, 'https://gw.example/', redirectUri), 'its own query counts')
      const url = new URL(`${redirectUri}&code=c&state=s`)
      t.same(responseParametersOf({ url, where: 'query', sealedState: 's' }, redirectUri), [['code', 'c'], ['state', 's']])
    }
  }
})

t.test('response_type rules: the same verdicts past the bound, and for long values', async (t) => {
  const types = ['code', 'code id_token', 'id_token', 'token', 'none', 'code token', 'code id_token token', 'id_token token']
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) {
      t.match(checkResponseParameters(`code x${i}`, [['code', 'c']], NONE), { ok: false }, 'an unknown type needs an error')
      t.match(checkResponseParameters(`code x${i}`, [['error', 'access_denied']], NONE), { ok: true })
    }
    for (const type of types) t.match(checkResponseParameters(type, [['error', 'access_denied'], ['state', 's']], NONE), { ok: true })
    t.match(checkResponseParameters('code', [['code', 'c']], NONE), { ok: true })
    t.match(checkResponseParameters('code', [['id_token', 'x']], NONE), { ok: false })
  }
  const long = `code ${'id_token '.repeat(10)}`.trim()
  t.match(checkResponseParameters(long, [['code', 'c']], NONE), { ok: false }, 'a long value is judged, not remembered: the id_token is missing')
  t.match(checkResponseParameters(long, [['code', 'c'], ['id_token', 'x']], NONE), { ok: true })
})

t.test('redirect_uri checks of the plan: a refused value stays refused past the bound, a long one is checked each time', async (t) => {
  const sealer = new FlowStateSealer(['a-secret-that-is-long-enough-for-the-sealer-0123456789'], 600)
  const policy = { offeredModes: new Set(['query.jwt'] as const), upstreamModePreference: 'auto' as const, isEncryptedFor: () => false }
  const plan = (redirectUri: string) => planAuthorizationRequest(parseParameters(new URLSearchParams({ client_id: 'a', response_type: 'code', response_mode: 'query.jwt', redirect_uri: redirectUri }).toString()), policy, sealer)
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 70; i++) t.equal(plan(`https://c${i}.example/cb`).kind, 'jarm')
    t.throws(() => plan('https://c.example/cb?state=x'), { code: 'invalid_parameter' }, 'a clashing own parameter')
    t.throws(() => plan('https://c.example/c b'), { code: 'invalid_parameter' })
  }
  const long = `https://c.example/${'p'.repeat(600)}`
  t.equal(plan(long).kind, 'jarm')
  t.equal(plan(long).kind, 'jarm', 'checked again')
  t.throws(() => plan(`${long}?code=1`), { code: 'invalid_parameter' })
})

t.test('rememberedAnswers: computed once per value, again after the bound clears it, every time for long values, never for a throw', async (t) => {
  const { rememberedAnswers } = await import('../../src/remembered-answers.js')
  const calls: string[] = []
  const lengthOf = rememberedAnswers((value: string) => { calls.push(value); if (value === 'bad') throw new Error('bad'); return value.length }, { entries: 2, maxLength: 5 })
  t.equal(lengthOf('ab'), 2)
  t.equal(lengthOf('ab'), 2)
  t.same(calls, ['ab'], 'remembered')
  t.equal(lengthOf('abc'), 3)
  t.equal(lengthOf('abcd'), 4, 'a third value clears the memory of two')
  t.equal(lengthOf('ab'), 2)
  t.same(calls, ['ab', 'abc', 'abcd', 'ab'], 'worked out again once forgotten')
  t.equal(lengthOf('abcdef'), 6)
  t.equal(lengthOf('abcdef'), 6)
  t.same(calls.slice(4), ['abcdef', 'abcdef'], 'too long to keep')
  t.throws(() => lengthOf('bad'))
  t.throws(() => lengthOf('bad'), 'a throw is not remembered as an answer')
  t.same(calls.slice(6), ['bad', 'bad'])
})
