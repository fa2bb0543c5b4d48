/**
 * How a message's body is delimited on one hop (RFC 9112 §6-§7). A proxy does not forward framing:
 * it reads the message with the framing it came with and frames it again for the next hop, so a
 * body can never be read by the next server as something else (a second request on a pooled
 * keep-alive connection: request smuggling). Pure.
 *
 * Node's parser has already refused what RFC 9112 §6.3 calls an error: Content-Length beside
 * Transfer-Encoding, a request whose last transfer coding is not chunked, a doubled or invalid
 * Content-Length. What it lets through and the gateway must still judge is below.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { GatewayError } from '../errors.js'

/** chunked is the only transfer coding the gateway implements (RFC 9112 §7; `identity` is no longer one). */
const CHUNKED_ONLY = /^[ \t]*chunked[ \t]*$/i

/**
 * A request with a transfer coding besides chunked (`gzip, chunked`) is refused with 501, as RFC
 * 9112 §6.1 says: the gateway would have to decode it to re-frame the body, and forwarding the
 * codings unread would hand the legacy server a body the gateway never read.
 */
export function requestFramingError (headers: IncomingHttpHeaders): GatewayError | undefined {
  const codings = headers['transfer-encoding']
  if (codings === undefined || CHUNKED_ONLY.test(codings)) return undefined
  return new GatewayError('transfer_coding_not_implemented', 'the request uses a transfer coding other than chunked, which the gateway does not implement')
}

/**
 * Why the legacy server's answer cannot be forwarded, or undefined. The client gets the answer
 * framed by the gateway's own server (Content-Length kept, or chunked); a transfer coding besides
 * chunked would reach it undecoded and unlabelled, and a page the gateway must inspect would be
 * read coded. Content-Length beside Transfer-Encoding is refused too (RFC 9112 §6.3: "ought to be
 * handled as an error"), should a parser ever let it through.
 */
export function responseFramingProblem (headers: IncomingHttpHeaders): string | undefined {
  const codings = headers['transfer-encoding']
  if (codings === undefined) return undefined
  if (!CHUNKED_ONLY.test(codings)) return 'the identity server\'s answer uses a transfer coding other than chunked'
  if (headers['content-length'] !== undefined) return 'the identity server\'s answer has both Content-Length and Transfer-Encoding'
  return undefined
}
