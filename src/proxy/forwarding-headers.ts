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
/**
 * What a proxy in front says about the client's request (RFC 7239 and the de facto X- family that
 * servers read: Rack prefers X-Forwarded-Scheme, Tomcat's RemoteIpValve X-Forwarded-Ssl, IIS
 * Front-End-Https, nginx setups X-Real-IP, ...): kept only from a proxy the gateway trusts.
 */
const FORWARDED: ReadonlySet<string> = new Set([
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix',
  'x-forwarded-scheme', 'x-forwarded-ssl', 'x-forwarded-protocol', 'x-forwarded-server', 'x-forwarded-uri', 'x-forwarded-path',
  'x-url-scheme', 'front-end-https', 'x-original-host', 'x-host', 'x-real-ip', 'x-client-ip', 'x-cluster-client-ip', 'true-client-ip',
  'x-original-forwarded-for', 'x-proxyuser-ip', 'cf-connecting-ip', 'fastly-client-ip',
])
/**
 * Fields that make a server route a request to another path or method than its target says (IIS URL
 * Rewrite and older Symfony read X-Original-URL / X-Rewrite-URL; many frameworks honour method
 * overrides): the gateway judges the target it sees, so they never reach the legacy server.
 */
const TARGET_OVERRIDES: ReadonlySet<string> = new Set(['x-original-url', 'x-rewrite-url', 'x-original-uri', 'x-http-method-override', 'x-http-method', 'x-method-override'])

/**
 * Fields a Connection option cannot remove. RFC 9110 §7.6.1 forbids a sender to name a field meant
 * for every recipient; these are the ones that frame a message (Content-Length), route it (Host) or
 * say how its body is read (Content-Type, Content-Encoding), which the gateway reads to decide what
 * to do with it. Removing one on the way would make the next hop read a different message from the
 * one the gateway judged (a POSTed JWT-mode request the legacy server reads as a form while the
 * gateway did not, a body without its length). Such an option is ignored rather than refused: the
 * field stays, so both hops read the same message, and the same rule serves the legacy server's
 * answers, where a refusal would turn a server quirk into a 502.
 */
const NEVER_CONNECTION_SCOPED: ReadonlySet<string> = new Set(['content-length', 'host', 'content-type', 'content-encoding'])

const NO_TOKENS: ReadonlySet<string> = new Set()

/** The field names a Connection header lists (most requests and answers have none, or only keep-alive). */
function connectionTokens (value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS
  // The usual values name no field but keep-alive, which is hop-by-hop anyway.
  if (typeof value === 'string' && /^\s*(keep-alive|close)\s*$/i.test(value)) return NO_TOKENS
  return new Set(String(value).split(',').map((token) => token.trim().toLowerCase()).filter((token) => token !== '' && !NEVER_CONNECTION_SCOPED.has(token)))
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
  // Checked to be chunked alone before (message-framing.ts); Node's parser has decoded it.
  const chunked = headers['transfer-encoding'] !== undefined
  const named = connectionTokens(headers['connection'])
  for (const name in headers) if (isHopByHop(name, named) || (!hop.trustForwarded && FORWARDED.has(name)) || TARGET_OVERRIDES.has(name)) delete headers[name]
  // RFC 9112 §7 / §6.1: a transfer coding belongs to one hop, and a proxy frames what it forwards.
  // A chunked body is chunked again for the legacy server; without this, Node sends a GET's body
  // with no framing at all, and the legacy server reads it as the next request on that pooled
  // connection (request smuggling). A Content-Length (one valid value: Node's parser checked) is
  // kept; a request with neither has no body (RFC 9112 §6.3), and none is sent.
  if (chunked) headers['transfer-encoding'] = 'chunked'
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
