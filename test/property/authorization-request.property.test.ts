// Properties of the authorization request step: mode resolution, parameter parsing, the rewrite plan.
import t from 'tap'
import fc from 'fast-check'
import { encodeParameters, parseParameters, singleValued } from '../../src/authorization-request/parameters.js'
import { planAuthorizationRequest, type AuthorizationRequestPolicy } from '../../src/authorization-request/plan-authorization-request.js'
import {
  chooseUpstreamMode, isJarmResponseMode, JARM_RESPONSE_MODES, resolveJarmMode, responseTypeCarriesTokens,
  type JarmResponseMode,
} from '../../src/authorization-request/response-mode.js'
import { isGatewayError } from '../../src/errors.js'
import { FlowStateSealer, SEALED_STATE_PREFIX } from '../../src/flow-state/sealed-state.js'
import { anyText, fcOptions, parameterName, propertyRuns, SEED } from '../helpers/fc-settings.js'

t.comment(`fast-check seed ${SEED} (replay with FC_SEED=${SEED})`)
const runs = propertyRuns(300)
const sealer = new FlowStateSealer(['a-property-test-secret-that-is-long-enough'], 600)

/** An oracle written apart from the module: a response type returns tokens when one of its words is token or id_token. */
const carriesTokens = (responseType: string): boolean => /(^| )(token|id_token)( |$)/.test(responseType)
const responseType = fc.subarray(['code', 'token', 'id_token', 'none'], { minLength: 1 }).chain((words) => fc.shuffledSubarray(words, { minLength: words.length })).map((words) => words.join(' '))

t.test('response mode resolution', async (t) => {
  fc.assert(fc.property(anyText(), (value) => isJarmResponseMode(value) === (JARM_RESPONSE_MODES as readonly string[]).includes(value)), fcOptions(runs))
  fc.assert(fc.property(fc.oneof(responseType, anyText()), (type) => responseTypeCarriesTokens(type) === carriesTokens(type)), fcOptions(runs))
  fc.assert(fc.property(fc.constantFrom(...JARM_RESPONSE_MODES), responseType, (mode, type) => {
    const resolved = resolveJarmMode(mode, type)
    if (mode !== 'jwt') return resolved === mode
    return resolved === (carriesTokens(type) ? 'fragment.jwt' : 'query.jwt')
  }), fcOptions(runs))
  fc.assert(fc.property(fc.oneof(responseType, anyText()), fc.constantFrom('auto', 'query', 'fragment', 'form_post') as fc.Arbitrary<'auto' | 'query' | 'fragment' | 'form_post'>, (type, preference) => {
    const mode = chooseUpstreamMode(type, preference)
    if (preference === 'fragment' || preference === 'form_post') return mode === preference
    // auto and query: tokens never go in a query (OAuth 2.0 Multiple Response Types §5).
    return mode === (carriesTokens(type) ? 'fragment' : 'query')
  }), fcOptions(runs))
  t.pass(`${runs * 4} cases`)
})

const parameterList = fc.array(fc.tuple(parameterName, anyText()), { maxLength: 12 })

t.test('parameters: any list survives encode then parse, in order, byte for byte', async (t) => {
  fc.assert(fc.property(parameterList, (list) => {
    t.same(parseParameters(encodeParameters(list)), list)
    return JSON.stringify(parseParameters(encodeParameters(list))) === JSON.stringify(list)
  }), fcOptions(runs))
  // Any string at all parses without throwing (a query string is whatever a client sends).
  fc.assert(fc.property(anyText(200), (raw) => Array.isArray(parseParameters(raw))), fcOptions(runs))
})

t.test('parameters: single-valued or a duplicate_parameter error naming the first repeat', async (t) => {
  fc.assert(fc.property(parameterList, (list) => {
    const names = list.map(([name]) => name)
    const firstRepeat = names.find((name, index) => names.indexOf(name) !== index)
    try {
      const map = singleValued(list)
      if (firstRepeat !== undefined) return false
      // Empty values are treated as omitted (RFC 6749 §3.1), the rest kept exactly.
      return map.size === list.filter(([, v]) => v !== '').length && list.every(([n, v]) => v === '' ? !map.has(n) : map.get(n) === v)
    } catch (error) {
      return isGatewayError(error) && error.code === 'duplicate_parameter' && error.message === `parameter ${firstRepeat} must not be sent more than once`
    }
  }), fcOptions(runs))
  t.pass()
})

const policy: AuthorizationRequestPolicy = { offeredModes: new Set(JARM_RESPONSE_MODES), upstreamModePreference: 'auto', isEncryptedFor: () => false }
const redirectUri = fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.constantFrom('https://client.example.org/cb', 'http://127.0.0.1:8080/cb?x=1', 'com.example.app:/callback'))
const reserved = new Set(['client_id', 'response_type', 'redirect_uri', 'response_mode', 'state', 'request', 'request_uri'])
const extras = fc.uniqueArray(fc.tuple(parameterName.filter((n) => !reserved.has(n)), anyText().filter((v) => v !== '')), { selector: ([n]) => n, maxLength: 6 })

t.test('plan: a valid JWT-mode request becomes the same request with a plain mode and a sealed state that opens to the client\'s', async (t) => {
  fc.assert(fc.property(
    fc.constantFrom(...JARM_RESPONSE_MODES), responseType, anyText().filter((v) => v !== ''), redirectUri, fc.option(anyText().filter((v) => v !== ''), { nil: undefined }), extras,
    (mode, type, clientId, uri, state, rest) => {
      const list: Array<[string, string]> = [['client_id', clientId], ['response_type', type], ['redirect_uri', uri], ['response_mode', mode], ...rest]
      if (state !== undefined) list.splice(1, 0, ['state', state])
      let plan
      try {
        plan = planAuthorizationRequest(list, policy, sealer)
      } catch (error) {
        // The one refusal a valid request can meet: query.jwt for tokens.
        return isGatewayError(error) && error.code === 'response_mode_not_allowed' && mode === 'query.jwt' && carriesTokens(type)
      }
      if (plan.kind !== 'jarm') return false
      const out = plan.parameters
      const states = out.filter(([n]) => n === 'state')
      const modes = out.filter(([n]) => n === 'response_mode')
      const flow = sealer.open(states[0]![1])
      return states.length === 1 && states[0]![1].startsWith(SEALED_STATE_PREFIX) &&
        modes.length === 1 && modes[0]![1] === plan.upstreamMode &&
        JSON.stringify(out.filter(([n]) => n !== 'state' && n !== 'response_mode')) === JSON.stringify(list.filter(([n]) => n !== 'state' && n !== 'response_mode')) &&
        flow.state === state && flow.clientId === clientId && flow.redirectUri === uri && flow.responseType === type &&
        flow.mode === resolveJarmMode(mode, type) && (plan.upstreamMode !== 'query' || !carriesTokens(type))
    }), fcOptions(runs))
  t.pass()
})

t.test('plan: requests without an offered JWT mode pass through untouched; any hostile list ends in a plan or a refusal that is never redirected', async (t) => {
  const offeredSome: AuthorizationRequestPolicy = { ...policy, offeredModes: new Set<JarmResponseMode>(['form_post.jwt']) }
  fc.assert(fc.property(parameterList, (list) => {
    const asks = list.some(([n, v]) => n === 'response_mode' && v === 'form_post.jwt')
    try {
      const plan = planAuthorizationRequest(list, offeredSome, sealer)
      return asks ? plan.kind === 'jarm' : plan.kind === 'passthrough'
    } catch (error) {
      return asks && isGatewayError(error) && error.status === 400 && !error.redirectable
    }
  }), fcOptions(runs))
  // Hostile lists that do ask for a JWT mode: every outcome is a plan or a 400 that is never redirected.
  fc.assert(fc.property(parameterList, fc.constantFrom(...JARM_RESPONSE_MODES), fc.nat(12), (list, mode, at) => {
    const hostile = [...list]
    hostile.splice(Math.min(at, hostile.length), 0, ['response_mode', mode])
    try {
      return planAuthorizationRequest(hostile, policy, sealer).kind === 'jarm'
    } catch (error) {
      return isGatewayError(error) && error.status === 400 && !error.redirectable
    }
  }), fcOptions(runs))
  t.pass()
})

t.test('plan: any repeated parameter in a JWT-mode request is refused', async (t) => {
  fc.assert(fc.property(fc.constantFrom('client_id', 'response_type', 'redirect_uri', 'response_mode', 'state', 'scope', 'nonce'), anyText(), anyText(), (name, a, b) => {
    const list: Array<[string, string]> = [['client_id', 'c'], ['response_type', 'code'], ['redirect_uri', 'https://c.example/cb'], ['response_mode', 'query.jwt'], ['scope', 'openid'], ['nonce', 'n'], ['state', 's']]
    const index = list.findIndex(([n]) => n === name)
    list.splice(index + 1, 0, [name, name === 'response_mode' ? 'query.jwt' : a || b || 'x'])
    try {
      planAuthorizationRequest(list, policy, sealer)
      return false
    } catch (error) {
      return isGatewayError(error) && error.code === 'duplicate_parameter'
    }
  }), fcOptions(runs))
  t.pass()
})
