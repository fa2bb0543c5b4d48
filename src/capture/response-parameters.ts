/**
 * What an authorization response of a given response_type can carry, so that the gateway signs
 * only an authorization response and never whatever a page or a redirect happens to hold. A legacy
 * server's login page that carries the original request's query (`client_id`, `redirect_uri`,
 * `scope`, and anything a hostile client added, `code=CHOSEN` say) is not an authorization
 * response, even when it goes to an address equal to the sealed redirect_uri. Pure.
 *
 * The names, by the specifications that define them:
 * - every response: `state` (RFC 6749 §4.1.2, §4.2.2), `iss` (RFC 9207 §2), `session_state`
 *   (OpenID Connect Session Management §3), and `scope`, the granted scope (RFC 6749 §3.3, §5.1),
 *   which servers such as Janssen send with a code too;
 * - errors: `error`, `error_description`, `error_uri` (RFC 6749 §4.1.2.1, §4.2.2.1);
 * - `code` (RFC 6749 §4.1.2);
 * - `token`: `access_token`, `token_type`, `expires_in`, `scope` (RFC 6749 §4.2.2);
 * - `id_token` (OpenID Connect Core §3.2.2.5, §3.3.2.5); `none` returns nothing but `state`
 *   (OAuth 2.0 Multiple Response Type Encoding Practices §4).
 */
import type { ParameterList } from '../authorization-request/parameters.js'
import { rememberedAnswers } from '../remembered-answers.js'

const EVERY_RESPONSE = ['state', 'iss', 'session_state', 'scope']
const ERROR = ['error', 'error_description', 'error_uri']
const BY_RESPONSE_TYPE: Readonly<Record<string, { readonly names: readonly string[], readonly required: readonly string[] }>> = {
  code: { names: ['code'], required: ['code'] },
  token: { names: ['access_token', 'token_type', 'expires_in'], required: ['access_token', 'token_type'] },
  id_token: { names: ['id_token'], required: ['id_token'] },
  none: { names: [], required: [] },
}

/**
 * Parameters that hand over a credential: an answer that carries one of them for a sealed flow
 * anywhere but the flow's redirect_uri is a response sent somewhere else, never a page to pass on.
 */
export const CREDENTIAL_PARAMETERS: ReadonlySet<string> = new Set(['code', 'access_token', 'id_token', 'refresh_token'])

/** Names every authorization response parameter the gateway knows, of any response type (a redirect_uri's own query may use none). */
export const RESPONSE_PARAMETER_NAMES: ReadonlySet<string> = new Set([
  ...EVERY_RESPONSE, ...ERROR, ...Object.values(BY_RESPONSE_TYPE).flatMap((type) => type.names), 'response',
])

export type ResponseCheck = { readonly ok: true } | { readonly ok: false, readonly reason: string }

/** What a response_type lets a response carry, worked out once per value (a pure function of it). */
interface ResponseTypeRules {
  readonly types: readonly string[]
  readonly allowed: ReadonlySet<string>
  readonly required: readonly string[]
  readonly unknown: readonly string[]
}

function rulesFor (responseType: string): ResponseTypeRules {
  const types = responseType.split(' ').filter((type) => type !== '')
  const allowed = new Set([...EVERY_RESPONSE, ...ERROR])
  const required: string[] = []
  const unknown: string[] = []
  for (const type of types) {
    const known = Object.hasOwn(BY_RESPONSE_TYPE, type) ? BY_RESPONSE_TYPE[type] : undefined
    // An unknown response type asks for what the gateway cannot check: only an error can answer it.
    if (known === undefined) {
      unknown.push(type)
      continue
    }
    for (const name of known.names) allowed.add(name)
    required.push(...known.required)
  }
  return { types, allowed, required, unknown }
}

/** The rules of the response types seen last: clients use a handful (`code`, `code id_token`, ...). */
const rememberedRulesFor = rememberedAnswers(rulesFor, { entries: 16, maxLength: 64 })

/**
 * Whether `parameters` are an authorization response to a request of `responseType`: only names
 * such a response can carry (plus the operator's `extra` names), and consistent with it: an error
 * and no credential, or every credential the response type asks for.
 */
export function checkResponseParameters (responseType: string, parameters: ParameterList, extra: ReadonlySet<string>): ResponseCheck {
  const { types, allowed, required, unknown } = rememberedRulesFor(responseType)
  const names = new Set(parameters.map(([name]) => name))
  const unexpected = [...names].filter((name) => !allowed.has(name) && !extra.has(name))
  if (unexpected.length > 0) {
    return { ok: false, reason: `an authorization response of response_type ${responseType} cannot carry parameter${unexpected.length > 1 ? 's' : ''} ${unexpected.slice(0, 5).join(', ')}` }
  }
  if (names.has('error')) {
    const credentials = [...names].filter((name) => CREDENTIAL_PARAMETERS.has(name) || name === 'token_type' || name === 'expires_in')
    if (credentials.length > 0) return { ok: false, reason: `an error response cannot also carry ${credentials.join(', ')}` }
    return { ok: true }
  }
  if (unknown.length > 0) return { ok: false, reason: `response_type ${unknown.join(' ')} is not one the gateway knows; only an error response can be captured for it` }
  const missing = required.filter((name) => !names.has(name))
  if (missing.length > 0 || types.length === 0) {
    return { ok: false, reason: `an authorization response of response_type ${responseType} needs ${missing.length > 0 ? missing.join(', ') : 'a response type'} or an error` }
  }
  return { ok: true }
}

/** Whether any of these parameters hands over a credential. */
export function carriesCredential (parameters: ParameterList): boolean {
  return parameters.some(([name]) => CREDENTIAL_PARAMETERS.has(name))
}
