/**
 * Capture from a redirect: the legacy server's 3xx `Location` that carries a sealed flow, split into
 * the redirect_uri's own query and the authorization response parameters. Pure.
 */
import type { ParameterList } from '../authorization-request/parameters.js'
import { isSealedState } from '../flow-state/sealed-state.js'
import { rememberedAnswers } from '../remembered-answers.js'
import { carriesCredential, checkResponseParameters } from './response-parameters.js'

/** What a capture needs to know of the request the answer came to, besides the flow. */
export interface CaptureContext {
  /**
   * The gateway's own public origins: an answer that goes there is a step of the legacy server's
   * own (a login page that echoes the state), passed on, never signed.
   */
  readonly publicOrigins: ReadonlySet<string>
  /**
   * False for an answer to a request on an endpoint that is not part of the authorization flow
   * (logout, token, userinfo, ...: the ones the discovery document names): what it sends is never
   * an authorization response, whatever state it carries.
   */
  readonly onFlowPath: boolean
  /** Response parameter names the operator allows beyond the standard ones (`extra_response_parameters`). */
  readonly extraResponseParameters: ReadonlySet<string>
  /**
   * The redirect_uri of the flow the very request this answers sealed, when it sealed one: an
   * answer that sends a credential there without any sealed state fails closed (see
   * credentialWithoutState).
   */
  readonly sealedHere?: string | undefined
}

/** The flow as the capture needs it. */
export interface CapturedFlow { readonly redirectUri: string, readonly responseType: string }

export interface SealedRedirect {
  readonly url: URL
  readonly where: 'query' | 'fragment'
  readonly sealedState: string
}

/**
 * The sealed state in a Location header, or undefined when the redirect is not an authorization
 * response of a flow this gateway sealed (a redirect to a login page, say). A relative Location is
 * resolved against the URL the browser asked for.
 */
export function findSealedRedirect (location: string, requestUrl: string): SealedRedirect | undefined {
  // `state=` as written, or spelled with percent-escapes (`st%61te=`, `%6Ag1.`) that the URL parser decodes.
  if (!location.includes('state=') && !location.includes('%')) return undefined
  let url: URL
  try {
    url = new URL(location, requestUrl)
  } catch {
    return undefined
  }
  // Every `state`, not the first: `state=&state=jg1...` is a sealed flow's answer (and then fails
  // closed on the repeat), never a plain one.
  const fromQuery = url.searchParams.getAll('state').find(isSealedState)
  if (fromQuery !== undefined) return { url, where: 'query', sealedState: fromQuery }
  const fromFragment = new URLSearchParams(url.hash.slice(1)).getAll('state').find(isSealedState)
  if (fromFragment !== undefined) return { url, where: 'fragment', sealedState: fromFragment }
  return undefined
}

/**
 * A URL without its query and fragment, as the WHATWG URL standard serialises it: scheme, userinfo,
 * host, port and path, which is what a browser navigates to. For a custom scheme
 * (`com.example.app:/cb`) this is the string itself; `URL.origin` is the opaque `"null"` for every
 * such scheme and must never be compared.
 */
export function endpointOf (url: URL): string {
  const href = url.href
  const hash = href.indexOf('#')
  const withoutHash = hash === -1 ? href : href.slice(0, hash)
  const query = withoutHash.indexOf('?')
  return query === -1 ? withoutHash : withoutHash.slice(0, query)
}

/** A flow's redirect_uri as the capture compares with it: its endpoint and its own query. */
interface RedirectUriParts { readonly endpoint: string, readonly ownQuery: ParameterList }

/**
 * The parts of the last redirect_uris compared with (frozen, shared): a client uses one or a few,
 * and each answer compared with one up to three times, a URL parse each time.
 */
const partsOf = rememberedAnswers((redirectUri: string): RedirectUriParts => {
  const url = new URL(redirectUri)
  return Object.freeze({ endpoint: endpointOf(url), ownQuery: Object.freeze([...url.searchParams]) })
}, { entries: 64, maxLength: 2048 })

/**
 * The same endpoint: scheme, userinfo, host, port and path equal (RFC 9700 §4.1.3: exact
 * comparison). The query is compared apart, since the response parameters are added to it.
 */
export function sameEndpoint (candidate: URL, redirectUri: string): boolean {
  return endpointOf(candidate) === partsOf(redirectUri).endpoint
}

/** `from` less one occurrence of each pair in `own`, or undefined when one of `own` is missing. */
function withoutOwnQuery (from: ParameterList, own: ParameterList): ParameterList | undefined {
  const rest = [...from]
  for (const [name, value] of own) {
    const index = rest.findIndex(([n, v]) => n === name && v === value)
    if (index === -1) return undefined
    rest.splice(index, 1)
  }
  return rest
}

/**
 * The response parameters of a sealed redirect, or undefined when it does not go to the flow's
 * redirect_uri (then it is not this flow's response, and is not captured).
 */
export function responseParametersOf (redirect: SealedRedirect, redirectUri: string): ParameterList | undefined {
  if (!sameEndpoint(redirect.url, redirectUri)) return undefined
  const query = withoutOwnQuery([...redirect.url.searchParams], partsOf(redirectUri).ownQuery)
  if (query === undefined) return undefined
  if (redirect.where === 'query') return query
  // In fragment mode the query must be exactly the redirect_uri's own one.
  if (query.length > 0) return undefined
  return [...new URLSearchParams(redirect.url.hash.slice(1))]
}

/** True when a form action (relative ones resolved against `base`) is exactly the flow's redirect_uri. */
export function matchesRedirectUri (action: string, base: string, redirectUri: string): boolean {
  let url: URL
  try {
    url = new URL(action, base)
  } catch {
    return false
  }
  if (!sameEndpoint(url, redirectUri)) return false
  return withoutOwnQuery([...url.searchParams], partsOf(redirectUri).ownQuery)?.length === 0
}

/**
 * A capture's outcome. `unreadable`: the answer goes to the flow's redirect_uri endpoint (or
 * otherwise carries the flow's response) but cannot be read as one; it must fail closed, since
 * passing it on would hand a plain response to a client that asked for a signed one.
 */
export type CaptureVerdict<F> =
  | { readonly kind: 'capture', readonly flow: F, readonly parameters: ParameterList, readonly sealedState: string }
  | { readonly kind: 'not_a_response' }
  | { readonly kind: 'unreadable', readonly reason: string }

/**
 * A Location header as the legacy server wrote it. Node reads header bytes as latin1; a server that
 * writes raw UTF-8 (not percent-encoded) in Location is read back as UTF-8 here, so non-ASCII
 * values survive. Valid latin1-only text that is not UTF-8 is kept as it was.
 */
export function locationText (header: string): string {
  if (!/[\u0080-\u00ff]/.test(header) || /[^\u0000-\u00ff]/.test(header)) return header
  const bytes = Buffer.from(header, 'latin1')
  const text = bytes.toString('utf8')
  return Buffer.from(text, 'utf8').equals(bytes) ? text : header
}

/**
 * The verdict on an answer that carries a flow's sealed state, going to `target` with `all` its
 * parameters (`read` gives the response parameters once the target is known to be the
 * redirect_uri). Captured: an answer to a request on the authorization flow, going to the flow's
 * exact redirect_uri, with its own query kept, that is an authorization response of the flow's
 * response_type. Passed on: an answer going to the gateway's own origin (a login page), or one
 * elsewhere that hands over no credential. Failing closed (`unreadable`): everything else, above
 * all a credential sent anywhere but the redirect_uri: the client asked for a signed response, and
 * a plain code must not travel.
 */
export function judgeSealedAnswer<F extends CapturedFlow> (flow: F, sealedState: string, target: URL, all: ParameterList, read: () => ParameterList | undefined, context: CaptureContext): CaptureVerdict<F> {
  if (context.onFlowPath && sameEndpoint(target, flow.redirectUri)) {
    const parameters = read()
    if (parameters === undefined) return { kind: 'unreadable', reason: 'the answer to the redirect_uri does not keep its own query, or mixes query and fragment parameters' }
    const check = checkResponseParameters(flow.responseType, parameters, context.extraResponseParameters)
    if (!check.ok) return { kind: 'unreadable', reason: check.reason }
    return { kind: 'capture', flow, parameters, sealedState }
  }
  if (context.publicOrigins.has(target.origin)) return { kind: 'not_a_response' }
  if (carriesCredential(all)) {
    return { kind: 'unreadable', reason: context.onFlowPath ? 'the answer sends a credential of this sign-in to an address that is not its redirect_uri' : 'an endpoint outside the authorization flow answered with a credential of this sign-in' }
  }
  return { kind: 'not_a_response' }
}

/**
 * A 3xx Location that carries a sealed flow, judged by judgeSealedAnswer. A relative Location is
 * resolved against `base`, the gateway's public origin and the request's path.
 */
export function captureRedirect<F extends CapturedFlow> (location: string, base: string, open: (sealed: string) => F, context: CaptureContext): CaptureVerdict<F> {
  const redirect = findSealedRedirect(locationText(location), base)
  if (redirect === undefined) return context.sealedHere === undefined ? { kind: 'not_a_response' } : credentialWithoutState(location, base, context.sealedHere)
  const flow = open(redirect.sealedState)
  const all = [...redirect.url.searchParams, ...new URLSearchParams(redirect.url.hash.slice(1))]
  return judgeSealedAnswer(flow, redirect.sealedState, redirect.url, all, () => responseParametersOf(redirect, flow.redirectUri), context)
}

/**
 * On the request that sealed a flow (`context.sealedHere`), an answer that sends a credential (a
 * code, a token) to that flow's redirect_uri without the sealed state: the legacy server dropped
 * or changed the state (`JG1.…`, a leading space, the client's own). The client asked for a signed
 * response, so the plain credential must not travel: it fails closed. The answer belongs to that
 * flow beyond doubt here, being this very request's; on a later request it could be another flow's
 * of the same client, and is not judged so. `target` is a Location or a Refresh URL (a meta
 * refresh's too), resolved against `base`; captureFormPost judges forms the same way.
 */
function credentialWithoutState (target: string, base: string, redirectUri: string): CaptureVerdict<never> {
  let url: URL
  try {
    url = new URL(locationText(target), base)
  } catch {
    return { kind: 'not_a_response' }
  }
  if (!sameEndpoint(url, redirectUri) || !carriesCredential([...url.searchParams, ...new URLSearchParams(url.hash.slice(1))])) return { kind: 'not_a_response' }
  return CREDENTIAL_WITHOUT_STATE
}

/** The verdict of credentialWithoutState and of a page that does the same (form-post-capture.ts). */
export const CREDENTIAL_WITHOUT_STATE: CaptureVerdict<never> = Object.freeze({ kind: 'unreadable', reason: 'the identity server sent a credential of this sign-in to its redirect_uri without the sign-in\'s state' })

/** Where a form action (relative ones resolved against `base`) goes, compared with the flow's redirect_uri. */
export function actionTarget (action: string, base: string, redirectUri: string): 'redirect_uri' | 'endpoint' | 'elsewhere' {
  let url: URL
  try {
    url = new URL(action, base)
  } catch {
    return 'elsewhere'
  }
  if (!sameEndpoint(url, redirectUri)) return 'elsewhere'
  return matchesRedirectUri(action, base, redirectUri) ? 'redirect_uri' : 'endpoint'
}
