/**
 * The gateway's request pipeline, in the order a request meets it:
 *
 *   request in ─► prepare headers ─► authorization request? ─► rewrite (plain mode, sealed state)
 *                                                          └─► otherwise untouched
 *              ─► proxy to the legacy server
 *              ─► its answer: a redirect or a form_post page carrying a sealed flow? ─► capture
 *                   ─► JARM (claims, sign) ─► deliver (query, fragment, form_post)
 *                 discovery or JWKS? ─► publish with the gateway's modes and keys
 *                 anything else ─► streamed back untouched
 *
 * Each step lives in its own module; this file only wires them and owns req/res.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { encodeParameters, parseParameters, type ParameterList } from './authorization-request/parameters.js'
import { isAuthorizationEndpoint } from './authorization-request/endpoint-path.js'
import { planAuthorizationRequest, type AuthorizationRequestPolicy } from './authorization-request/plan-authorization-request.js'
import { findSealedForms } from './capture/form-post-capture.js'
import { findSealedRedirect, matchesRedirectUri, responseParametersOf } from './capture/redirect-capture.js'
import { signingAlgorithms, type GatewayConfig } from './config/load-config.js'
import { GatewayError, isGatewayError } from './errors.js'
import { FlowStateSealer, SEALED_STATE_PREFIX, type Flow } from './flow-state/sealed-state.js'
import { decodeBody, readBounded, type BoundedBody } from './http/bounded-body.js'
import { ResponseTokenFactory } from './jarm/response-token.js'
import { isDiscoveryPath, publishDiscovery, publishJwks } from './metadata/published-metadata.js'
import { MetadataCache, type UpstreamMetadata } from './metadata/upstream-metadata.js'
import type { Logger } from './observability/logger.js'
import { prepareRequestHeaders, responseHeadersToCopy } from './proxy/forwarding-headers.js'
import { UpstreamProxy } from './proxy/upstream-proxy.js'
import { errorPage } from './respond/error-page.js'
import { deliver, type Delivery } from './respond/response-delivery.js'

/** An incoming X-Request-Id is kept only when it looks like one, so it cannot inject into logs or pages. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'
/** Content types a legacy server may (mis)label a form_post page with. */
const PAGE_CONTENT_TYPES = /^(text\/html|application\/xhtml\+xml|text\/plain)\b/i

interface Exchange {
  readonly id: string
  readonly path: string
  /** The URL the browser asked for, to resolve relative Locations and form actions. */
  readonly publicUrl: string
  readonly metadata: UpstreamMetadata
}

export class Gateway {
  readonly config: GatewayConfig
  readonly #logger: Logger
  readonly #sealer: FlowStateSealer
  readonly #tokens: ResponseTokenFactory
  readonly #proxy: UpstreamProxy
  readonly #metadata: MetadataCache
  readonly #policy: AuthorizationRequestPolicy
  readonly #signingAlgs: readonly string[]

  constructor (config: GatewayConfig, logger: Logger, now: () => number = Date.now) {
    this.config = config
    this.#logger = logger
    this.#sealer = new FlowStateSealer(config.state.secrets, config.state.ttlSeconds, now)
    this.#tokens = new ResponseTokenFactory(config, now)
    this.#proxy = new UpstreamProxy(config.upstream.url, config.upstream.timeoutMs)
    this.#metadata = new MetadataCache({
      upstreamUrl: config.upstream.url,
      issuer: config.issuer,
      discoveryPath: config.upstream.discoveryPath,
      authorizationEndpoint: config.upstream.authorizationEndpoint,
      timeoutMs: config.upstream.timeoutMs,
      maxBytes: config.limits.metadataBytes,
    }, (error) => this.#logger.warn({ event: 'metadata.refresh_failed', err: error.message }, 'discovery refresh failed; keeping the last document'))
    this.#policy = {
      offeredModes: config.responseModes,
      upstreamModePreference: config.upstream.responseMode,
      isEncryptedFor: () => false,
    }
    this.#signingAlgs = signingAlgorithms(config)
  }

  /** Reads the legacy server's discovery document once; the gateway also works if it comes later. */
  async start (): Promise<UpstreamMetadata> {
    const metadata = await this.#metadata.refresh()
    if (metadata.issuerMismatch !== undefined) this.#logger.warn({ event: 'metadata.issuer_mismatch' }, metadata.issuerMismatch)
    return metadata
  }

  close (): void {
    this.#proxy.close()
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint()
    const incomingId = req.headers['x-request-id']
    const id = typeof incomingId === 'string' && REQUEST_ID_PATTERN.test(incomingId) ? incomingId : randomUUID()
    res.setHeader('x-request-id', id)
    req.headers['x-request-id'] = id
    const url = req.url ?? '/'
    const queryAt = url.indexOf('?')
    const path = queryAt === -1 ? url : url.slice(0, queryAt)
    res.on('close', () => {
      this.#logger.info({ event: 'request', requestId: id, method: req.method, path, status: res.statusCode, completed: res.writableFinished, ms: Number(process.hrtime.bigint() - started) / 1e6 })
    })
    const socket = req.socket as TLSSocket
    const publicUrl = `${socket.encrypted === true ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${url}`
    prepareRequestHeaders(req.headers, { remoteAddress: socket.remoteAddress, encrypted: socket.encrypted === true, localPort: socket.localPort, trustForwarded: this.config.trustForwardedHeaders })
    this.#route(req, res, path, publicUrl, id).catch((error: unknown) => this.#fail(error, req, res, id))
  }

  async #route (req: IncomingMessage, res: ServerResponse, path: string, publicUrl: string, id: string): Promise<void> {
    let metadata: UpstreamMetadata
    try {
      metadata = await this.#metadata.get()
    } catch (error) {
      // Without metadata the authorization endpoint is unknown. Anything that may ask for a JWT
      // mode must not reach the legacy server, which could answer in plain text; the rest may.
      if (isDiscoveryPath(path) || req.method === 'POST' || publicUrl.includes('response_mode')) throw error
      this.#proxy.forward(req, res, { onResponse: (upstream) => this.#stream(upstream, res), onError: (e) => this.#fail(e, req, res, id) })
      return
    }
    const exchange: Exchange = { id, path, publicUrl, metadata }
    let body: Buffer | undefined
    if (isAuthorizationEndpoint(path, metadata.authorizationEndpointPath) && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'POST')) {
      body = await this.#rewriteAuthorizationRequest(req, exchange)
    }
    this.#proxy.forward(req, res, {
      body,
      onResponse: (upstream) => { this.#answer(upstream, req, res, exchange).catch((error: unknown) => this.#fail(error, req, res, id)) },
      onError: (error) => this.#fail(error, req, res, id),
    })
  }

  /**
   * The authorization request step. GET (and HEAD, which servers route to the same handler): the query is rewritten in req.url. POST: the form body is
   * read (bounded) and returned rewritten, with the query's parameters moved into it, so the legacy
   * server reads exactly the parameters the gateway checked. Returns the body to send, if any.
   */
  async #rewriteAuthorizationRequest (req: IncomingMessage, exchange: Exchange): Promise<Buffer | undefined> {
    const query = exchange.publicUrl.includes('?') ? exchange.publicUrl.slice(exchange.publicUrl.indexOf('?') + 1) : ''
    const queryParameters = parseParameters(query)
    let bodyParameters: ParameterList = []
    let originalBody: Buffer | undefined
    if (req.method === 'POST') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      if (contentType !== FORM_CONTENT_TYPE) return undefined
      const read = await readBounded(req, this.config.limits.authorizationRequestBytes)
      if (!read.complete) throw new GatewayError('request_body_too_large', `the authorization request body is larger than ${this.config.limits.authorizationRequestBytes} bytes`)
      originalBody = Buffer.concat(read.chunks)
      bodyParameters = parseParameters(originalBody.toString('utf8'))
    }
    const plan = planAuthorizationRequest([...queryParameters, ...bodyParameters], this.#policy, this.#sealer)
    if (plan.kind === 'passthrough') return originalBody
    this.#logger.info({ event: 'jarm.request', requestId: exchange.id, clientId: plan.flow.clientId, mode: plan.flow.mode, upstreamMode: plan.upstreamMode })
    if (req.method !== 'POST') {
      req.url = `${exchange.path}?${encodeParameters(plan.parameters)}`
      return undefined
    }
    req.url = exchange.path
    return Buffer.from(encodeParameters(plan.parameters))
  }

  /** What to do with the legacy server's answer. */
  async #answer (upstream: IncomingMessage, req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    const status = upstream.statusCode ?? 502
    const location = upstream.headers.location
    if (status >= 300 && status < 400 && location !== undefined) {
      const redirect = findSealedRedirect(location, exchange.publicUrl)
      if (redirect !== undefined) {
        const flow = this.#sealer.open(redirect.sealedState)
        const parameters = responseParametersOf(redirect, flow.redirectUri)
        if (parameters !== undefined) return this.#respond(upstream, res, exchange, flow, parameters)
      }
    }
    if (status === 200 && isDiscoveryPath(exchange.path)) return this.#rewriteJson(upstream, res, (document) => publishDiscovery(document, { issuer: this.config.issuer, responseModes: this.config.responseModes, signingAlgs: this.#signingAlgs }))
    if (status === 200 && exchange.path === exchange.metadata.jwksPath) {
      return this.#rewriteJson(upstream, res, (document) => {
        const published = publishJwks(document, this.config.keyRing.publicJwks)
        if (published.collisions.length > 0) this.#logger.error({ event: 'jwks.kid_collision', kids: published.collisions }, 'a gateway key has the same kid as a legacy server key; clients may pick the wrong one')
        return published.document
      })
    }
    if (PAGE_CONTENT_TYPES.test(upstream.headers['content-type'] ?? 'text/html') && req.method !== 'HEAD' && status !== 204 && status !== 304) {
      return this.#inspectPage(upstream, res, exchange)
    }
    this.#stream(upstream, res)
  }

  /** Streams the legacy server's answer back untouched (less hop-by-hop headers). */
  #stream (upstream: IncomingMessage, res: ServerResponse, alreadyRead: Buffer[] = []): void {
    res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, responseHeadersToCopy(upstream.headers))
    for (const chunk of alreadyRead) res.write(chunk)
    upstream.on('close', () => { if (!upstream.complete) res.destroy() })
    upstream.pipe(res)
  }

  async #readUpstream (upstream: IncomingMessage, limit: number): Promise<BoundedBody> {
    try {
      return await readBounded(upstream, limit)
    } catch (cause) {
      throw new GatewayError('upstream_bad_response', 'the identity server closed the connection before the end of its answer', { cause })
    }
  }

  /**
   * An HTML page: perhaps a form_post response of a sealed flow. Read up to the capture limit; a page
   * that carries a sealed flow is captured, or fails closed when it is too large or unreadable;
   * any other page goes on untouched.
   */
  async #inspectPage (upstream: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    const limit = this.config.limits.capturedPageBytes
    const body = await this.#readUpstream(upstream, limit)
    let text: string | undefined
    try {
      text = decodeBody(Buffer.concat(body.chunks), upstream.headers['content-encoding'], limit * 4)
    } catch {
      text = undefined
    }
    if (text === undefined || !text.includes(SEALED_STATE_PREFIX)) return this.#stream(upstream, res, body.chunks)
    if (!body.complete) {
      upstream.destroy()
      throw new GatewayError('capture_too_large', `the identity server's answer to this sign-in is larger than ${limit} bytes and cannot be read`)
    }
    for (const form of findSealedForms(text)) {
      const flow = this.#sealer.open(form.sealedState)
      if (matchesRedirectUri(form.action, exchange.publicUrl, flow.redirectUri)) return this.#respond(upstream, res, exchange, flow, form.parameters)
    }
    this.#stream(upstream, res, body.chunks)
  }

  async #rewriteJson (upstream: IncomingMessage, res: ServerResponse, rewrite: (document: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const body = await this.#readUpstream(upstream, this.config.limits.metadataBytes)
    let document: unknown
    try {
      document = body.complete ? JSON.parse(decodeBody(Buffer.concat(body.chunks), upstream.headers['content-encoding'], this.config.limits.metadataBytes) ?? '') : undefined
    } catch {
      document = undefined
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) return this.#stream(upstream, res, body.chunks)
    const json = JSON.stringify(rewrite(document as Record<string, unknown>))
    const headers = responseHeadersToCopy(upstream.headers)
    delete headers['content-encoding']
    delete headers['etag']
    headers['content-length'] = String(Buffer.byteLength(json))
    headers['content-type'] = 'application/json; charset=utf-8'
    res.writeHead(200, headers)
    res.end(json)
  }

  /** The capture's end: the JARM response for the flow, carried in the mode the client asked for. */
  #respond (upstream: IncomingMessage, res: ServerResponse, exchange: Exchange, flow: Flow, parameters: ParameterList): void {
    upstream.resume()
    const jwt = this.#tokens.create({ issuer: exchange.metadata.issuer, clientId: flow.clientId, state: flow.state, parameters })
    const error = parameters.find(([name]) => name === 'error')?.[1]
    this.#logger.info({ event: 'jarm.response', requestId: exchange.id, clientId: flow.clientId, mode: flow.mode, alg: this.#tokens.algorithmFor(flow.clientId), outcome: error === undefined ? 'success' : 'error', error })
    const delivery = deliver(flow.mode, flow.redirectUri, jwt)
    // The legacy server's session cookies ride on the answer it gave; they must reach the browser.
    const cookies = upstream.headers['set-cookie']
    this.#send(res, delivery, cookies)
  }

  #send (res: ServerResponse, delivery: Delivery, cookies?: string[]): void {
    const headers: Record<string, string | string[]> = { ...delivery.headers, 'content-length': String(Buffer.byteLength(delivery.body)) }
    if (cookies !== undefined) headers['set-cookie'] = cookies
    res.writeHead(delivery.status, headers)
    res.end(delivery.body)
  }

  #fail (error: unknown, req: IncomingMessage, res: ServerResponse, id: string): void {
    const gatewayError = isGatewayError(error) ? error : new GatewayError('internal_error', 'the gateway failed to handle this request', { cause: error })
    const cause = gatewayError.cause instanceof Error ? gatewayError.cause.message : undefined
    const log = gatewayError.status >= 500 ? this.#logger.error.bind(this.#logger) : this.#logger.warn.bind(this.#logger)
    log({ event: 'request.failed', requestId: id, method: req.method, code: gatewayError.code, status: gatewayError.status, cause }, gatewayError.message)
    if (res.headersSent || res.destroyed) {
      res.destroy()
      return
    }
    this.#send(res, errorPage(gatewayError, id))
  }
}
