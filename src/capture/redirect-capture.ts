/**
 * Capture from a redirect: the legacy server's 3xx `Location` that carries a sealed flow, split into
 * the redirect_uri's own query and the authorization response parameters. Pure.
 */
import type { ParameterList } from '../authorization-request/parameters.js'
import { isSealedState } from '../flow-state/sealed-state.js'

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
  if (!location.includes('state=')) return undefined
  let url: URL
  try {
    url = new URL(location, requestUrl)
  } catch {
    return undefined
  }
  const fromQuery = url.searchParams.get('state')
  if (isSealedState(fromQuery)) return { url, where: 'query', sealedState: fromQuery }
  const fromFragment = new URLSearchParams(url.hash.slice(1)).get('state')
  if (isSealedState(fromFragment)) return { url, where: 'fragment', sealedState: fromFragment }
  return undefined
}

/** Same origin and path, and every parameter of the redirect_uri's own query present. */
export function sameEndpoint (candidate: URL, redirectUri: URL): boolean {
  return candidate.origin === redirectUri.origin && candidate.pathname === redirectUri.pathname
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
  const expected = new URL(redirectUri)
  if (!sameEndpoint(redirect.url, expected)) return undefined
  const ownQuery = [...expected.searchParams]
  const query = withoutOwnQuery([...redirect.url.searchParams], ownQuery)
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
  const expected = new URL(redirectUri)
  if (!sameEndpoint(url, expected)) return false
  return withoutOwnQuery([...url.searchParams], [...expected.searchParams])?.length === 0
}

/**
 * A capture's outcome. `unreadable`: the answer goes to the flow's redirect_uri endpoint (or
 * otherwise carries the flow's response) but cannot be read as one; it must fail closed, since
 * passing it on would hand a plain response to a client that asked for a signed one.
 */
export type CaptureVerdict<F> =
  | { readonly kind: 'capture', readonly flow: F, readonly parameters: ParameterList }
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
 * A 3xx Location: captured when it carries a sealed flow and goes to that flow's redirect_uri;
 * unreadable when it goes to the redirect_uri's endpoint but its parameters do not fit (the
 * redirect_uri's own query missing, a fragment response with extra query parameters); left alone
 * when it goes anywhere else (a login page that echoes the state, say).
 */
export function captureRedirect<F extends { readonly redirectUri: string }> (location: string, base: string, open: (sealed: string) => F): CaptureVerdict<F> {
  const redirect = findSealedRedirect(locationText(location), base)
  if (redirect === undefined) return { kind: 'not_a_response' }
  const flow = open(redirect.sealedState)
  if (!sameEndpoint(redirect.url, new URL(flow.redirectUri))) return { kind: 'not_a_response' }
  const parameters = responseParametersOf(redirect, flow.redirectUri)
  if (parameters === undefined) return { kind: 'unreadable', reason: 'the redirect to the redirect_uri does not keep its own query, or mixes query and fragment parameters' }
  return { kind: 'capture', flow, parameters }
}

/** Where a form action (relative ones resolved against `base`) goes, compared with the flow's redirect_uri. */
export function actionTarget (action: string, base: string, redirectUri: string): 'redirect_uri' | 'endpoint' | 'elsewhere' {
  let url: URL
  try {
    url = new URL(action, base)
  } catch {
    return 'elsewhere'
  }
  if (!sameEndpoint(url, new URL(redirectUri))) return 'elsewhere'
  return matchesRedirectUri(action, base, redirectUri) ? 'redirect_uri' : 'endpoint'
}
