/**
 * The only module that imports http-proxy. It sends a request to the legacy server and hands the
 * answer back unread; the gateway decides what to do with it (selfHandleResponse).
 *
 * http-proxy 1.18.1 has had no release since 2020; rather than move to a rewrite, its known traps
 * are guarded here, each where it bites:
 * - `Trailer` / `Expect` / hop-by-hop request headers: removed before proxy.web() (forwarding-headers),
 *   so it cannot throw ERR_HTTP_TRAILER_INVALID (#1647) and always emits `proxyReq`.
 * - A client that goes away aborts the upstream request (#1586).
 * - An upstream that dies mid-body destroys the client response instead of leaving it hanging.
 * - An upstream that does not answer in time ends in a 504, told apart from a reset (502).
 * - A keep-alive agent: without one every request opens a new connection.
 * - Its `deleteLength` pass sets `Content-Length: 0` on a DELETE or OPTIONS without one and drops
 *   Transfer-Encoding, then streams the chunked body anyway, unframed: the pass is removed, and
 *   framing is the gateway's (forwarding-headers.ts, message-framing.ts).
 * - It joins the target's path and the request's with slashes (`*` became `/*`): no target path is
 *   prepended (upstream.url is an origin), so `OPTIONS *` stays asterisk-form.
 * - For an https:// target the keep-alive agent is an HTTPS agent (src/tls/upstream-tls.ts): given an
 *   HTTP agent, http-proxy's https.request throws ERR_INVALID_PROTOCOL synchronously.
 * - Anything proxy.web() throws synchronously becomes this request's error, never the process's.
 */
import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { Url } from 'node:url'
import httpProxy from 'http-proxy'
import { GatewayError } from '../errors.js'
import { responseFramingProblem } from '../http/message-framing.js'
import type { UpstreamTls } from '../tls/tls-files.js'
import { createUpstreamAgent, tlsFailureCause, watchHandshake, type HandshakeWatch } from '../tls/upstream-tls.js'

export { UPSTREAM_KEEP_ALIVE_MS } from '../tls/upstream-tls.js'

export type ResponseHandler = (upstream: IncomingMessage, req: IncomingMessage, res: ServerResponse) => void
export type ErrorHandler = (error: GatewayError, req: IncomingMessage, res: ServerResponse) => void

/**
 * One request's handlers. They ride on the request itself under a private symbol, where the
 * `proxyReq` event finds them. (A WeakMap keyed by the request did the same, but its entries made
 * every young-generation GC ~10x slower, 17.9 instead of 4.9 µs of scavenging per proxied request,
 * and brought mark-compacts under load; per-call http-proxy options would copy every option on
 * each request.)
 */
interface Exchange { readonly onResponse: ResponseHandler, readonly onError: ErrorHandler, timedOut: boolean, handshake: HandshakeWatch }
/** The handshake of a plain HTTP exchange: none to wait for. */
const NO_HANDSHAKE: HandshakeWatch = { done: true }
const EXCHANGE = Symbol('jarm-gateway.exchange')
type WithExchange = IncomingMessage & { [EXCHANGE]?: Exchange }

/**
 * The upstream origin in the shape http-proxy reads (url.parse's fields). Given a string, http-proxy
 * parses it again on every request that has options of its own.
 */
export function proxyTarget (origin: string): Partial<Url> {
  const url = new URL(origin)
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return { protocol: url.protocol, host: url.host, hostname, port: url.port, path: url.pathname + url.search }
}

export class UpstreamProxy {
  readonly #proxy: httpProxy
  readonly #agent: Agent
  readonly #timeoutMs: number
  readonly #https: boolean

  /**
   * @param agent the agent to use instead of the one made for `target` and `tls` (a test hands in
   *   a wrong one to show that a throw inside http-proxy stays one request's failure).
   */
  constructor (target: string, timeoutMs: number, tls?: UpstreamTls, agent?: Agent) {
    this.#timeoutMs = timeoutMs
    this.#https = target.startsWith('https:')
    this.#agent = agent ?? createUpstreamAgent(target, tls)
    this.#proxy = httpProxy.createProxyServer({ target: proxyTarget(target), agent: this.#agent, selfHandleResponse: true, xfwd: false, changeOrigin: false, prependPath: false })
    const passes = this.#proxy as unknown as { webPasses: Array<{ name: string }> }
    passes.webPasses = passes.webPasses.filter((pass) => pass.name !== 'deleteLength')
    this.#proxy.on('proxyReq', (proxyReq: ClientRequest, req: WithExchange, res: ServerResponse) => this.#watch(proxyReq, req, res, req[EXCHANGE]!))
  }

  /** The keep-alive agent of this upstream, for the gateway's own requests to it (discovery, readiness). */
  get agent (): Agent {
    return this.#agent
  }

  /** The answer, the upstream timeout and client disconnects, per request. */
  #watch (proxyReq: ClientRequest, req: IncomingMessage, res: ServerResponse, exchange: Exchange): void {
    if (this.#https) exchange.handshake = watchHandshake(proxyReq)
    proxyReq.on('response', (upstream: IncomingMessage) => {
      const problem = responseFramingProblem(upstream.headers)
      if (problem === undefined) return exchange.onResponse(upstream, req, res)
      // Its body cannot be delimited or read as sent: the connection is not reused either.
      proxyReq.destroy()
      exchange.onError(new GatewayError('upstream_bad_response', problem), req, res)
    })
    // A 101 to a request that asked for no upgrade (the gateway forwards none): Node hands the
    // socket to an `upgrade` listener or destroys it without a word, which left the client waiting.
    proxyReq.on('upgrade', (_upstream: IncomingMessage, socket: Socket) => {
      socket.destroy()
      exchange.onError(new GatewayError('upstream_bad_response', 'the identity server switched protocols on a request that asked for no upgrade'), req, res)
    })
    proxyReq.setTimeout(this.#timeoutMs, () => {
      exchange.timedOut = true
      proxyReq.destroy()
    })
    res.on('close', () => { if (!res.writableFinished) proxyReq.destroy() })
  }

  /**
   * Sends the request upstream. `body` replaces the client's body (its headers are adjusted here);
   * without it the client's body streams through.
   */
  forward (req: IncomingMessage, res: ServerResponse, handlers: { body?: Buffer | undefined, onResponse: ResponseHandler, onError: ErrorHandler }): void {
    const exchange: Exchange = { onResponse: handlers.onResponse, onError: handlers.onError, timedOut: false, handshake: NO_HANDSHAKE };
    (req as WithExchange)[EXCHANGE] = exchange
    const onError = (error: NodeJS.ErrnoException): void => { exchange.onError(this.#classify(error, exchange), req, res) }
    try {
      if (handlers.body === undefined) {
        // No options argument at all: with one, http-proxy copies all of its options for the request.
        (this.#proxy.web as (req: IncomingMessage, res: ServerResponse, callback: typeof onError) => void)(req, res, onError)
        return
      }
      req.headers['content-length'] = String(handlers.body.length)
      delete req.headers['transfer-encoding']
      this.#proxy.web(req, res, { buffer: Readable.from([handlers.body]) }, onError)
    } catch (error) {
      // A synchronous throw inside http-proxy (#1647 was one; a wrong agent is another): no
      // `error` listener sees it, and uncaught it would end the process.
      exchange.onError(new GatewayError('internal_error', 'the gateway failed to send the request to the identity server', { cause: error }), req, res)
    }
  }

  #classify (error: NodeJS.ErrnoException, exchange: Exchange): GatewayError {
    if (exchange.timedOut) return new GatewayError('upstream_timeout', `the identity server did not answer within ${this.#timeoutMs} ms`, { cause: error })
    if (error.code === 'ECONNREFUSED' || error.code === 'ENOTFOUND' || error.code === 'EHOSTUNREACH' || error.code === 'EAI_AGAIN') {
      return new GatewayError('upstream_unreachable', 'the identity server refused the connection or cannot be found', { cause: error })
    }
    const tls = this.#https ? tlsFailureCause(error, exchange.handshake.done) : undefined
    if (tls !== undefined) return new GatewayError('upstream_tls_failed', 'the secure connection to the identity server failed', { cause: new Error(tls, { cause: error }) })
    return new GatewayError('upstream_bad_response', 'the identity server closed the connection or sent an invalid answer', { cause: error })
  }

  close (): void {
    this.#proxy.close()
    this.#agent.destroy()
  }
}
