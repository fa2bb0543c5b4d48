/**
 * The authorization request step: decide whether a request asks for a JWT response mode and, if it
 * does, produce the request the legacy server gets instead (plain mode, sealed state). Pure apart
 * from the sealer it is handed.
 */
import { GatewayError } from '../errors.js'
import type { Flow, FlowStateSealer } from '../flow-state/sealed-state.js'
import { singleValued, type ParameterList } from './parameters.js'
import { carriesRequestObject, refuseJwtModeInRequestObject, type JwtModeInRequestObject } from './request-object.js'
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
}

export type AuthorizationRequestPlan =
  | { readonly kind: 'passthrough' }
  | { readonly kind: 'jarm', readonly flow: Flow, readonly upstreamMode: PlainResponseMode, readonly parameters: ParameterList }
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

export function planAuthorizationRequest (
  parameters: ParameterList,
  policy: AuthorizationRequestPolicy,
  sealer: FlowStateSealer,
): AuthorizationRequestPlan {
  const jarm = asksForJarm(parameters, policy.offeredModes)
  // A request object by value is looked into even without a JWT mode outside it (RFC 9101).
  if (!jarm && !carriesRequestObject(parameters)) return { kind: 'passthrough' }
  const single = singleValued(parameters)
  try {
    refuseJwtModeInRequestObject(single, policy.offeredModes)
  } catch (error) {
    // RFC 9101 invalid_request_object, as a JARM error when the gateway vouches for the redirect_uri.
    const target = (error as JwtModeInRequestObject).target
    if (target !== undefined && policy.redirectUrisFor?.(target.clientId)?.includes(target.redirectUri) === true) {
      const responseType = target.responseType ?? 'code'
      return { kind: 'refuse', flow: { mode: resolveJarmMode(target.mode, responseType), clientId: target.clientId, redirectUri: target.redirectUri, responseType, state: target.state }, error: error as GatewayError }
    }
    throw error
  }
  if (!jarm) return { kind: 'passthrough' }
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
  if (!URL.canParse(redirectUri) || !/^[\x21-\x7e]+$/.test(redirectUri)) {
    throw new GatewayError('invalid_parameter', 'parameter redirect_uri must be an absolute URL of printable ASCII characters (percent-encode the rest)')
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
  const flow: Flow = { mode, clientId, redirectUri, responseType, state: single.get('state') }
  const upstreamMode = chooseUpstreamMode(responseType, policy.upstreamModePreference)
  const sealedState = sealer.seal(flow)
  const rewritten: Array<readonly [string, string]> = []
  for (const [name, value] of parameters) {
    if (name === 'response_mode') rewritten.push([name, upstreamMode])
    else if (name !== 'state') rewritten.push([name, value])
  }
  rewritten.push(['state', sealedState])
  return { kind: 'jarm', flow, upstreamMode, parameters: rewritten }
}
