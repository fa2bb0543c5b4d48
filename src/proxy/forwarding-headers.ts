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
const FORWARDED = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix']

function connectionTokens (headers: IncomingHttpHeaders): Set<string> {
  const value = headers['connection']
  return new Set((value ?? '').split(',').map((token) => token.trim().toLowerCase()).filter(Boolean))
}

function isHopByHop (name: string, named: Set<string>): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.has(name)
}

/**
 * Rewrites the client's headers in place for the upstream: hop-by-hop fields removed and
 * X-Forwarded-* set by this hop. Client-sent X-Forwarded-* and Forwarded are dropped unless the
 * gateway sits behind a proxy it trusts, or a client could steer the URLs a legacy server builds.
 */
export function prepareRequestHeaders (headers: IncomingHttpHeaders, hop: { remoteAddress: string | undefined, localPort: number | undefined, trustForwarded: boolean }): void {
  const named = connectionTokens(headers)
  for (const name of Object.keys(headers)) if (isHopByHop(name, named)) delete headers[name]
  if (!hop.trustForwarded) for (const name of FORWARDED) delete headers[name]
  const priorFor = headers['x-forwarded-for']
  headers['x-forwarded-for'] = [priorFor, hop.remoteAddress].filter(Boolean).join(', ')
  // The gateway itself listens on plain HTTP (TLS ends in front of it, at a proxy it may trust).
  headers['x-forwarded-proto'] ??= 'http'
  if (headers.host !== undefined) headers['x-forwarded-host'] ??= headers.host
  if (hop.localPort !== undefined) headers['x-forwarded-port'] ??= String(hop.localPort)
}

/** The upstream's response headers less the hop-by-hop ones. */
export function responseHeadersToCopy (headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(headers)
  const copied: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !isHopByHop(name, named)) copied[name] = value
  }
  return copied
}
