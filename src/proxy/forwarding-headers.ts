/**
 * Header rules for a proxy hop. Pure.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

/**
 * RFC 9110 §7.6.1: Connection, the fields it names, and the classic hop-by-hop fields are for one
 * connection only and are never forwarded. `expect` is answered by this hop (Node sends the 100
 * Continue), and http-proxy skips its `proxyReq` event when it is forwarded.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect'])
const FORWARDED: ReadonlySet<string> = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix'])

const NO_TOKENS: ReadonlySet<string> = new Set()

/** The field names a Connection header lists (most requests and answers have none, or only keep-alive). */
function connectionTokens (value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS
  // The usual values name no field but keep-alive, which is hop-by-hop anyway.
  if (typeof value === 'string' && /^\s*(keep-alive|close)\s*$/i.test(value)) return NO_TOKENS
  return new Set(String(value).split(',').map((token) => token.trim().toLowerCase()).filter(Boolean))
}

function isHopByHop (name: string, named: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.has(name)
}

/**
 * Rewrites the client's headers in place for the upstream: hop-by-hop fields removed and
 * X-Forwarded-* set by this hop. Client-sent X-Forwarded-* and Forwarded are dropped unless the
 * gateway sits behind a proxy it trusts, or a client could steer the URLs a legacy server builds.
 */
export function prepareRequestHeaders (headers: IncomingHttpHeaders, hop: { remoteAddress: string | undefined, localPort: number | undefined, trustForwarded: boolean, scheme: 'http' | 'https' }): void {
  const named = connectionTokens(headers['connection'])
  for (const name in headers) if (isHopByHop(name, named) || (!hop.trustForwarded && FORWARDED.has(name))) delete headers[name]
  const priorFor = headers['x-forwarded-for']
  const remote = hop.remoteAddress
  headers['x-forwarded-for'] = priorFor === undefined || priorFor === '' ? remote ?? '' : remote === undefined ? priorFor : `${priorFor}, ${remote}`
  // The scheme this hop was reached by (listen.tls), unless a proxy it trusts said otherwise.
  headers['x-forwarded-proto'] ??= hop.scheme
  if (headers.host !== undefined) headers['x-forwarded-host'] ??= headers.host
  if (hop.localPort !== undefined) headers['x-forwarded-port'] ??= String(hop.localPort)
}

/** The upstream's response headers less the hop-by-hop ones. */
export function responseHeadersToCopy (headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(headers['connection'])
  const copied: OutgoingHttpHeaders = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined && !isHopByHop(name, named)) copied[name] = value
  }
  return copied
}
