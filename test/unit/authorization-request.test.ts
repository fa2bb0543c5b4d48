import t from 'tap'
import { encodeParameters, parseParameters, singleValued } from '../../src/authorization-request/parameters.js'
import { planAuthorizationRequest, type AuthorizationRequestPolicy } from '../../src/authorization-request/plan-authorization-request.js'
import { chooseUpstreamMode, isJarmResponseMode, JARM_RESPONSE_MODES, resolveJarmMode, responseTypeCarriesTokens } from '../../src/authorization-request/response-mode.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'

t.test('JARM §2.3.4: jwt resolves by response type', async (t) => {
  t.equal(resolveJarmMode('jwt', 'code'), 'query.jwt')
  t.equal(resolveJarmMode('jwt', 'none'), 'query.jwt')
  for (const type of ['token', 'id_token', 'code id_token', 'code token', 'id_token token', 'code id_token token']) {
    t.equal(resolveJarmMode('jwt', type), 'fragment.jwt', type)
  }
  t.equal(resolveJarmMode('form_post.jwt', 'code id_token'), 'form_post.jwt', 'explicit modes stay')
  t.notOk(responseTypeCarriesTokens('code'))
  t.notOk(responseTypeCarriesTokens('tokens'), 'whole words only')
})

t.test('the plain mode asked of the legacy server', async (t) => {
  t.equal(chooseUpstreamMode('code', 'auto'), 'query')
  t.equal(chooseUpstreamMode('code id_token', 'auto'), 'fragment')
  t.equal(chooseUpstreamMode('code id_token', 'query'), 'fragment', 'tokens never in a query')
  t.equal(chooseUpstreamMode('code', 'query'), 'query')
  t.equal(chooseUpstreamMode('code', 'fragment'), 'fragment')
  t.equal(chooseUpstreamMode('code id_token', 'form_post'), 'form_post')
})

t.test('JARM modes', async (t) => {
  for (const mode of JARM_RESPONSE_MODES) t.ok(isJarmResponseMode(mode))
  for (const mode of ['query', 'fragment', 'form_post', 'JWT', 'query.JWT', 'web_message.jwt']) t.notOk(isJarmResponseMode(mode), mode)
})

t.test('parameters: form decoding, single values, empty means omitted', async (t) => {
  const list = parseParameters('a=1&b=x+y%26z&c=&d=%C3%A4')
  t.same(list, [['a', '1'], ['b', 'x y&z'], ['c', ''], ['d', 'ä']])
  t.same([...singleValued(list)], [['a', '1'], ['b', 'x y&z'], ['d', 'ä']], 'RFC 6749 §3.1: c= is as if omitted')
  t.throws(() => singleValued(parseParameters('a=1&a=1')), { code: 'duplicate_parameter', message: 'parameter a must not be sent more than once' })
  t.throws(() => singleValued(parseParameters('a=&a=1')), { code: 'duplicate_parameter' }, 'an empty repeat is a repeat')
  t.equal(encodeParameters([['a', 'x y'], ['b', '&=']]), 'a=x+y&b=%26%3D')
})

const policy: AuthorizationRequestPolicy = { offeredModes: new Set(JARM_RESPONSE_MODES), upstreamModePreference: 'auto', isEncryptedFor: (clientId) => clientId === 'encrypted' }
const sealer = new FlowStateSealer(['plan-test-secret-plan-test-secret-01'], 600)
const base = parseParameters('response_type=code&client_id=app1&redirect_uri=https%3A%2F%2Fc.example%2Fcb&scope=openid&state=s1&response_mode=query.jwt')

t.test('a JARM request becomes a plain one with a sealed state, other parameters untouched and in order', async (t) => {
  const plan = planAuthorizationRequest(base, policy, sealer)
  t.equal(plan.kind, 'jarm')
  if (plan.kind !== 'jarm') return
  t.same(plan.flow, { mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://c.example/cb', responseType: 'code', state: 's1' })
  t.equal(plan.upstreamMode, 'query')
  t.same(plan.parameters.slice(0, 5), [['response_type', 'code'], ['client_id', 'app1'], ['redirect_uri', 'https://c.example/cb'], ['scope', 'openid'], ['response_mode', 'query']])
  const [name, sealed] = plan.parameters[5]!
  t.equal(name, 'state')
  t.same(sealer.open(sealed), plan.flow)
  t.equal(plan.parameters.length, 6)
})

t.test('no state: one sealed state is added; empty state counts as none', async (t) => {
  for (const list of [base.filter(([n]) => n !== 'state'), base.map(([n, v]) => [n, n === 'state' ? '' : v] as const)]) {
    const plan = planAuthorizationRequest(list, policy, sealer)
    if (plan.kind !== 'jarm') throw new Error('expected jarm')
    t.equal(plan.parameters.filter(([n]) => n === 'state').length, 1)
    t.equal(plan.flow.state, undefined)
  }
})

t.test('requests without an offered JARM mode pass through untouched, duplicates and all', async (t) => {
  t.same(planAuthorizationRequest(parseParameters('response_mode=query&state=a&state=b'), policy, sealer), { kind: 'passthrough' })
  t.same(planAuthorizationRequest(parseParameters('client_id=x'), policy, sealer), { kind: 'passthrough' })
  const onlyFormPost = { ...policy, offeredModes: new Set(['form_post.jwt'] as const) }
  t.same(planAuthorizationRequest(base, onlyFormPost, sealer), { kind: 'passthrough' }, 'a mode not offered is left to the legacy server')
})

t.test('refusals name the field', async (t) => {
  const without = (name: string) => base.filter(([n]) => n !== name)
  t.throws(() => planAuthorizationRequest(without('client_id'), policy, sealer), { code: 'missing_parameter', message: 'parameter client_id is required with a JWT response mode' })
  t.throws(() => planAuthorizationRequest(without('response_type'), policy, sealer), { code: 'missing_parameter', message: /response_type/ })
  t.throws(() => planAuthorizationRequest(without('redirect_uri'), policy, sealer), { code: 'missing_parameter', message: /redirect_uri/ })
  t.throws(() => planAuthorizationRequest([...base, ['request', 'eyJ...']], policy, sealer), { code: 'invalid_parameter' })
  t.throws(() => planAuthorizationRequest([...base, ['state', 's2']], policy, sealer), { code: 'duplicate_parameter' })
  t.throws(() => planAuthorizationRequest(base.map(([n, v]) => [n, n === 'redirect_uri' ? '/cb' : v] as const), policy, sealer), { code: 'invalid_parameter', message: 'parameter redirect_uri must be an absolute URL' })
  const implicit = base.map(([n, v]) => [n, n === 'response_type' ? 'id_token token' : v] as const)
  t.throws(() => planAuthorizationRequest(implicit, policy, sealer), { code: 'response_mode_not_allowed' })
  const encrypted = implicit.map(([n, v]) => [n, n === 'client_id' ? 'encrypted' : v] as const)
  const plan = planAuthorizationRequest(encrypted, policy, sealer)
  t.equal(plan.kind === 'jarm' && plan.upstreamMode, 'fragment', 'allowed when encrypted; the legacy server still uses the fragment')
})
