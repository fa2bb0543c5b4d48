/**
 * The authorization request step: decide whether a request asks for a JWT response mode and, if it
 * does, produce the request the legacy server gets instead (plain mode, sealed state). Pure apart
 * from the sealer it is handed.
 */
import { GatewayError } from '../errors.js'
import { rememberedAnswers } from '../remembered-answers.js'
import { isSealedState, type Flow, type FlowStateSealer } from '../flow-state/sealed-state.js'
import { RESPONSE_PARAMETER_NAMES } from '../capture/response-parameters.js'
import { parseParameters, singleValued, type ParameterList } from './parameters.js'
import {
  chooseUpstreamMode, isJarmResponseMode, resolveJarmMode, responseTypeCarriesTokens,
  type JarmResponseMode, type PlainResponseMode, type UpstreamResponseModePreference,
} from './response-mode.js'

export interface AuthorizationRequestPolicy {
  /** The JARM modes this gateway offers; a request for another one is left for the legacy server to refuse. */
  readonly offeredModes: ReadonlySet<JarmResponseMode>
  readonly upstreamModePreference: UpstreamResponseModePreference
  /** Whether the client's responses are encrypted (JARM §2.3.1 allows query.jwt with tokens only then). */
  readonly isEncryptedFor: (clientId: string) => boolean
  /** False for a client the gateway refuses JWT modes to (an unlisted client under `unlisted_clients: refuse`). */
  readonly allowsClient?: (clientId: string) => boolean
  /** The redirect URIs the gateway's config vouches for, for a client that lists them. */
  readonly redirectUrisFor?: (clientId: string) => readonly string[] | undefined
  /** The issuer the flow is sealed for, when the gateway fronts several (src/issuers/). */
  readonly issuer?: string | undefined
}

/** Where the request came: the authorization endpoint (a browser), or the PAR endpoint (the client's back channel). */
export type RequestChannel = 'front' | 'pushed'

export type AuthorizationRequestPlan =
  | { readonly kind: 'passthrough' }
  | { readonly kind: 'jarm', readonly flow: Flow, readonly upstreamMode: PlainResponseMode, readonly parameters: ParameterList, readonly sealedState: string }
  /** Refused, but to a redirect_uri the config vouches for: the refusal goes to the client as a JARM error. */
  | { readonly kind: 'refuse', readonly flow: Flow, readonly error: GatewayError }

function required (parameters: ReadonlyMap<string, string>, name: string): string {
  const value = parameters.get(name)
  if (value === undefined) {
    throw new GatewayError('missing_parameter', `parameter ${name} is required with a JWT response mode`)
  }
  return value
}

/** True when any `response_mode` value, even a repeated one, names a JWT mode this gateway offers. */
function asksForJarm (parameters: ParameterList, offered: ReadonlySet<JarmResponseMode>): boolean {
  return parameters.some(([name, value]) => name === 'response_mode' && isJarmResponseMode(value) && offered.has(value))
}

/**
 * Rules on a redirect_uri beyond being absolute printable ASCII: no fragment (RFC 6749 §3.1.2), and
 * no query parameter of its own that an authorization response also uses (`state`, `code`,
 * `response`, ...): the response parameters are added to that query, and the client could not
 * tell its own from the response's (two `response` or `state` values, or a plain one beside the JWT).
 */
function checkRedirectUri (redirectUri: string): void {
  if (redirectUri.includes('#')) throw new GatewayError('invalid_parameter', 'parameter redirect_uri must not have a fragment (RFC 6749 §3.1.2)')
  const query = redirectUri.indexOf('?')
  if (query === -1) return
  const clash = parseParameters(redirectUri.slice(query + 1)).find(([name]) => RESPONSE_PARAMETER_NAMES.has(name))
  if (clash !== undefined) throw new GatewayError('invalid_parameter', `parameter redirect_uri must not have a query parameter named ${clash[0]}: authorization responses use that name`)
}

/**
 * redirect_uris that passed the checks lately (one that fails throws, and is never remembered): a
 * client sends the same one on every request, a URL parse and two scans each time.
 */
const checkRedirectUriOnce = rememberedAnswers((redirectUri: string): void => {
  if (!URL.canParse(redirectUri) || !/^[\x21-\x7e]+$/.test(redirectUri)) {
    throw new GatewayError('invalid_parameter', 'parameter redirect_uri must be an absolute URL of printable ASCII characters (percent-encode the rest)')
  }
  checkRedirectUri(redirectUri)
}, { entries: 64, maxLength: 512 })

export function planAuthorizationRequest (
  parameters: ParameterList,
  policy: AuthorizationRequestPolicy,
  sealer: FlowStateSealer,
  channel: RequestChannel = 'front',
): AuthorizationRequestPlan {
  const jarm = asksForJarm(parameters, policy.offeredModes)
  // Request objects were verified and expanded before (expand-request.ts), or are of a client the
  // gateway cannot verify and hold no JWT mode: only the outer parameters count here.
  if (!jarm) return { kind: 'passthrough' }
  const single = singleValued(parameters)
  if (single.has('request') || single.has('request_uri')) {
    // The legacy server would read response_mode and state from the request object, which the
    // gateway cannot rewrite without breaking its signature: refuse rather than let a plain
    // response reach a client that asked for a signed one.
    throw new GatewayError('invalid_parameter', 'a JWT response mode in the query cannot be combined with request or request_uri; send it inside a pushed authorization request instead')
  }
  const clientId = required(single, 'client_id')
  if (policy.allowsClient?.(clientId) === false) {
    throw new GatewayError('client_not_allowed', `client ${clientId} is not configured for JWT response modes on this gateway`)
  }
  const responseType = required(single, 'response_type')
  const redirectUri = required(single, 'redirect_uri')
  // The response goes back to the redirect_uri as sent (its own query byte for byte), in a Location
  // header or a form action. A URI is printable ASCII (RFC 3986 §2): a space, a control character
  // or a raw non-ASCII one would be normalised away by a lenient legacy server and the URL parser,
  // then break the header (CR, LF, beyond Latin-1) or point somewhere else once sent back raw.
  checkRedirectUriOnce(redirectUri)
  const registered = policy.redirectUrisFor?.(clientId) ?? []
  // Where the config lists the client's redirect URIs, a flow is sealed only for one of them, byte
  // for byte (RFC 9700 §4.1.3), before the legacy server has had a chance to judge it.
  if (registered.length > 0 && !registered.includes(redirectUri)) {
    throw new GatewayError('redirect_uri_not_allowed', `redirect_uri is not one of the redirect_uris configured for client ${clientId}`)
  }
  const mode = resolveJarmMode(single.get('response_mode') as JarmResponseMode, responseType)
  if (mode === 'query.jwt' && responseTypeCarriesTokens(responseType) && !policy.isEncryptedFor(clientId)) {
    const error = new GatewayError('response_mode_not_allowed', `response_mode query.jwt cannot carry the tokens of response_type ${responseType} unless the response is encrypted; use fragment.jwt or form_post.jwt`)
    // JARM §2.3.1: a JARM error in query.jwt, but only to a redirect_uri the gateway itself vouches for.
    if (policy.redirectUrisFor?.(clientId)?.includes(redirectUri) === true) {
      return { kind: 'refuse', flow: { mode, clientId, redirectUri, responseType, state: single.get('state') }, error }
    }
    throw error
  }
  const flow: Flow = {
    mode, clientId, redirectUri, responseType, state: single.get('state'),
    ...(channel === 'pushed' ? { pushed: true } : {}),
    ...(policy.issuer !== undefined ? { issuer: policy.issuer } : {}),
  }
  const upstreamMode = chooseUpstreamMode(responseType, policy.upstreamModePreference)
  const sealedState = sealer.seal(flow)
  const rewritten: Array<readonly [string, string]> = []
  for (const [name, value] of parameters) {
    if (name === 'response_mode') rewritten.push([name, upstreamMode])
    else if (name !== 'state') rewritten.push([name, value])
  }
  rewritten.push(['state', sealedState])
  return { kind: 'jarm', flow, upstreamMode, parameters: rewritten, sealedState }
}

/**
 * A POST to the authorization endpoint whose body is the gateway's own rewrite (a plain mode and a
 * sealed state that opens) and whose query is the client's original request for that very flow: a
 * legacy consent or login form that posts back to the URL the browser shows (`action="#"`) with the
 * parameters it received as hidden fields. Recognised only when the query's client_id,
 * redirect_uri, response_type and state are the sealed flow's, its response_mode resolves to the
 * flow's mode, and every other parameter in both has the same single value. Returns the query to
 * send on, the client's mode and state replaced by the body's, so the legacy server reads one
 * request; undefined for any other mix, which the plan then refuses (duplicate_parameter).
 */
export function planResumedRequest (query: ParameterList, body: ParameterList, open: (sealed: string) => Flow): ParameterList | undefined {
  if (query.length === 0 || body.length === 0) return undefined
  let bodyValues: ReadonlyMap<string, string>
  let queryValues: ReadonlyMap<string, string>
  try {
    bodyValues = singleValued(body)
    queryValues = singleValued(query)
  } catch {
    return undefined
  }
  const sealed = bodyValues.get('state')
  const bodyMode = bodyValues.get('response_mode')
  if (!isSealedState(sealed) || bodyMode === undefined || isJarmResponseMode(bodyMode)) return undefined
  let flow: Flow
  try {
    flow = open(sealed)
  } catch {
    return undefined
  }
  const queryMode = queryValues.get('response_mode')
  if (queryValues.get('client_id') !== flow.clientId || queryValues.get('redirect_uri') !== flow.redirectUri ||
    queryValues.get('response_type') !== flow.responseType || queryValues.get('state') !== flow.state ||
    queryMode === undefined || !isJarmResponseMode(queryMode) || resolveJarmMode(queryMode, flow.responseType) !== flow.mode) return undefined
  for (const [name, value] of queryValues) {
    if (name !== 'state' && name !== 'response_mode' && bodyValues.has(name) && bodyValues.get(name) !== value) return undefined
  }
  return query.map(([name, value]) => name === 'state' ? [name, sealed] as const : name === 'response_mode' ? [name, bodyMode] as const : [name, value] as const)
}
