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
 * Everything built from the configuration is one Runtime, swapped whole by reload(): a request runs
 * with the configuration it started with, and what a reload retires stays usable for as long as
 * anything it made can still come back (src/rotation/retired-generations.ts).
 *
 * Each step lives in its own module; this file only wires them and owns req/res.
 */
import { randomUUID } from 'node:crypto'
import type { Agent, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { encodeParameters, parseParameters, type ParameterList } from './authorization-request/parameters.js'
import { matchesEndpointPath } from './authorization-request/endpoint-path.js'
import { planAuthorizationRequest, type AuthorizationRequestPolicy } from './authorization-request/plan-authorization-request.js'
import { captureFormPost } from './capture/form-post-capture.js'
import { captureRedirect, type CaptureVerdict } from './capture/redirect-capture.js'
import { signingAlgorithms, type GatewayConfig } from './config/load-config.js'
import { GatewayError, isGatewayError } from './errors.js'
import { FlowStateSealer, SEALED_STATE_PREFIX, type Flow } from './flow-state/sealed-state.js'
import { decodeBody, readBounded, type BoundedBody } from './http/bounded-body.js'
import { ENCRYPTION_ALGS, ENCRYPTION_ENCS } from './jarm/encrypt-response.js'
import { decodeForInspection } from './http/decode-for-inspection.js'
import { pathOf, queryOf } from './http/request-target.js'
import { ResponseTokenFactory } from './jarm/response-token.js'
import type { KeyRing } from './keys/signing-keys.js'
import { isDiscoveryPath, publishDiscovery, publishJwks } from './metadata/published-metadata.js'
import { MetadataCache, type UpstreamMetadata } from './metadata/upstream-metadata.js'
import type { Logger } from './observability/logger.js'
import { GatewayMetrics } from './observability/metrics.js'
import { narrowAcceptEncodingHeader } from './proxy/accept-encoding.js'
import { prepareRequestHeaders, responseHeadersToCopy } from './proxy/forwarding-headers.js'
import { UpstreamProxy } from './proxy/upstream-proxy.js'
import { sameUpstreamTls } from './tls/tls-files.js'
import { errorJson } from './respond/error-json.js'
import { errorPage } from './respond/error-page.js'
import { deliver, type Delivery } from './respond/response-delivery.js'
import { openFlow, publishedKeys, Retired, RETIRED_KEY_GRACE_MS } from './rotation/retired-generations.js'

/** An incoming X-Request-Id is kept only when it looks like one, so it cannot inject into logs or pages. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'
/** Content types a legacy server may (mis)label a form_post page with (none at all counts as HTML). */
const PAGE_CONTENT_TYPES = /^(text\/html|application\/xhtml\+xml|text\/plain|text\/xml|application\/xml)\b/i

/** Everything built from one configuration. */
interface Runtime {
  readonly config: GatewayConfig
  readonly sealer: FlowStateSealer
  readonly tokens: ResponseTokenFactory
  readonly proxy: UpstreamProxy
  readonly metadata: MetadataCache
  readonly policy: AuthorizationRequestPolicy
  readonly signingAlgs: readonly string[]
}

/**
 * The legacy server's answer headers as the client gets them: less the hop-by-hop ones, with the
 * request id. Given whole to writeHead: a header set ahead with setHeader sends Node down a path that
 * sets every field one by one.
 */
function answerHeaders (upstream: IncomingMessage, id: string): OutgoingHttpHeaders {
  const headers = responseHeadersToCopy(upstream.headers)
  headers['x-request-id'] = id
  return headers
}

/** What the authorization request step decided: the body to send on, or a refusal for the client itself. */
type Rewrite = { readonly body: Buffer | undefined } | { readonly refusal: { readonly flow: Flow, readonly error: GatewayError } }

/**
 * What a request did for a JARM flow, for its log line: the line at its end is then the flow's
 * event (`jarm.request`, `jarm.response`) at info, with these fields.
 */
interface JarmStep { readonly event: 'jarm.request' | 'jarm.response', readonly fields: Readonly<Record<string, unknown>> }

/** One request's record, from its arrival to its log line. */
interface Trail { jarm: JarmStep | undefined }

interface Exchange {
  readonly rt: Runtime
  readonly id: string
  readonly path: string
  /** The URL the browser asked for, to resolve relative Locations and form actions. */
  readonly publicUrl: string
  readonly metadata: UpstreamMetadata
  readonly trail: Trail
}

export class Gateway {
  readonly metrics: GatewayMetrics
  readonly #logger: Logger
  readonly #now: () => number
  #runtime: Runtime
  /** Public keys of replaced configurations, published until the last response they signed has expired. */
  readonly #retiredKeys: Retired<KeyRing['publicJwks']>
  /** Sealers of replaced configurations, opening the flows they sealed until those expire. */
  readonly #retiredSealers: Retired<FlowStateSealer>
  /** Proxies to a previous upstream: their idle sockets close on their own; closed for good with the gateway. */
  readonly #retiredProxies: UpstreamProxy[] = []

  constructor (config: GatewayConfig, logger: Logger, now: () => number = Date.now, metrics: GatewayMetrics = new GatewayMetrics()) {
    this.metrics = metrics
    this.#logger = logger
    this.#now = now
    this.#retiredKeys = new Retired(now)
    this.#retiredSealers = new Retired(now)
    this.#runtime = this.#build(config, undefined)
  }

  /** The configuration new requests run with. */
  get config (): GatewayConfig {
    return this.#runtime.config
  }

  #build (config: GatewayConfig, previous: Runtime | undefined): Runtime {
    const before = previous?.config
    const sameUpstream = before !== undefined && before.upstream.url === config.upstream.url && before.upstream.timeoutMs === config.upstream.timeoutMs &&
      sameUpstreamTls(before.upstream.tls, config.upstream.tls)
    const proxy = sameUpstream ? previous!.proxy : new UpstreamProxy(config.upstream.url, config.upstream.timeoutMs, config.upstream.tls)
    const sameMetadata = sameUpstream && before.issuer === config.issuer && before.upstream.discoveryPath === config.upstream.discoveryPath &&
      before.upstream.authorizationEndpoint === config.upstream.authorizationEndpoint && before.limits.metadataBytes === config.limits.metadataBytes
    return {
      config,
      sealer: new FlowStateSealer(config.state.secrets, config.state.ttlSeconds, this.#now),
      tokens: new ResponseTokenFactory(config, this.#now),
      proxy,
      metadata: sameMetadata ? previous!.metadata : new MetadataCache({
        upstreamUrl: config.upstream.url,
        issuer: config.issuer,
        discoveryPath: config.upstream.discoveryPath,
        authorizationEndpoint: config.upstream.authorizationEndpoint,
        timeoutMs: config.upstream.timeoutMs,
        maxBytes: config.limits.metadataBytes,
        agent: proxy.agent,
      }, (error) => this.#logger.warn({ event: 'metadata.refresh_failed', err: error.message }, 'discovery refresh failed; keeping the last document'), this.#now),
      policy: {
        offeredModes: config.responseModes,
        upstreamModePreference: config.upstream.responseMode,
        isEncryptedFor: (clientId) => config.clients.get(clientId)?.encryption !== undefined,
        allowsClient: (clientId) => config.unlistedClients === 'sign' || config.clients.has(clientId),
        redirectUrisFor: (clientId) => config.clients.get(clientId)?.redirectUris,
      },
      signingAlgs: signingAlgorithms(config),
    }
  }

  /**
   * Swaps in a new, already validated configuration (SIGHUP: src/cli/reload-on-signal.ts). Requests
   * in flight finish with the configuration they started with; the previous public keys stay
   * published for response_ttl_seconds (plus a grace) and the previous state secrets keep opening
   * flows for state.ttl_seconds, so neither issued responses nor sign-ins in progress break.
   */
  reload (config: GatewayConfig): void {
    const previous = this.#runtime
    this.#runtime = this.#build(config, previous)
    this.#retiredKeys.retire(previous.config.keyRing.publicJwks, previous.config.responseTtlSeconds * 1000 + RETIRED_KEY_GRACE_MS)
    this.#retiredSealers.retire(previous.sealer, previous.config.state.ttlSeconds * 1000)
    if (this.#runtime.proxy !== previous.proxy) this.#retiredProxies.push(previous.proxy)
  }

  /** The keep-alive agent to the legacy server (TLS settings included), for the readiness check. */
  get upstreamAgent (): Agent {
    return this.#runtime.proxy.agent
  }

  /** Reads the legacy server's discovery document once; the gateway also works if it comes later. */
  async start (): Promise<UpstreamMetadata> {
    const metadata = await this.#runtime.metadata.refresh()
    if (metadata.issuerMismatch !== undefined) this.#logger.warn({ event: 'metadata.issuer_mismatch' }, metadata.issuerMismatch)
    return metadata
  }

  /** The legacy server's discovery, cached (for the readiness check). */
  async metadata (): Promise<UpstreamMetadata> {
    return this.#runtime.metadata.get()
  }

  close (): void {
    this.#runtime.proxy.close()
    for (const proxy of this.#retiredProxies) proxy.close()
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const incomingId = req.headers['x-request-id']
    const id = typeof incomingId === 'string' && REQUEST_ID_PATTERN.test(incomingId) ? incomingId : randomUUID()
    req.headers['x-request-id'] = id
    const url = req.url!
    const path = pathOf(url)
    const trail: Trail = { jarm: undefined }
    this.metrics.requestStarted()
    res.on('close', () => this.#ended(req, res, id, path, started, trail))
    const rt = this.#runtime
    prepareRequestHeaders(req.headers, { remoteAddress: req.socket.remoteAddress, localPort: req.socket.localPort, trustForwarded: rt.config.trustForwardedHeaders, scheme: 'encrypted' in req.socket ? 'https' : 'http' })
    // The URL the browser asked for: relative Locations and form actions resolve against it.
    // X-Forwarded-Proto is now either the gateway's own or one from a proxy it trusts.
    const publicUrl = `${req.headers['x-forwarded-proto'] as string}://${req.headers.host ?? 'localhost'}${url}`
    // Ask only for codings the gateway can read, so an answer it must inspect can always be read.
    narrowAcceptEncodingHeader(req.headers)
    const metadata = rt.metadata.get()
    if (!(metadata instanceof Promise)) {
      this.#route({ rt, id, path, publicUrl, metadata, trail }, req, res)
      return
    }
    metadata.then((known) => this.#route({ rt, id, path, publicUrl, metadata: known, trail }, req, res), (error: unknown) => {
      // Without metadata the authorization endpoint is unknown. Anything that may ask for a JWT
      // mode must not reach the legacy server, which could answer in plain text; the rest may.
      if (isDiscoveryPath(path) || req.method === 'POST' || publicUrl.includes('response_mode')) return this.#fail(error, req, res, id)
      this.#forward(rt, req, res, id, undefined, (upstream) => this.#stream(upstream, res, id))
    })
  }

  /**
   * One line per request, at its end. A request that served a JARM flow logs as that flow's event
   * at info, as does one that failed or was cut short; a plain passthrough logs at debug: the
   * legacy server logs its own requests, and a line per login page or static file cost ~20 µs of
   * CPU per passthrough request (BENCHMARKS.md).
   */
  #ended (req: IncomingMessage, res: ServerResponse, id: string, path: string, started: number, trail: Trail): void {
    const status = res.statusCode
    const completed = res.writableFinished
    this.metrics.requestEnded(status, completed)
    const { jarm } = trail
    const notable = jarm !== undefined || !completed || status >= 500
    if (!notable && !this.#logger.isLevelEnabled('debug')) return
    const line = { event: jarm?.event ?? 'request', requestId: id, method: req.method, path, status, completed, ms: Math.round((performance.now() - started) * 1000) / 1000, ...jarm?.fields }
    if (notable) this.#logger.info(line)
    else this.#logger.debug(line)
  }

  /** Which step a request goes through, once the legacy server's endpoints are known. */
  #route (exchange: Exchange, req: IncomingMessage, res: ServerResponse): void {
    const { rt, id, path, metadata } = exchange
    if (matchesEndpointPath(path, metadata.authorizationEndpointPath) && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'POST')) {
      this.#authorizationRequest(exchange, req, res).catch((error: unknown) => this.#fail(error, req, res, id))
      return
    }
    if (metadata.pushedAuthorizationRequestPath !== undefined && req.method === 'POST' && matchesEndpointPath(path, metadata.pushedAuthorizationRequestPath)) {
      this.#pushedAuthorizationRequest(exchange, req, res).catch((error: unknown) => this.#fail(error, req, res, id, errorJson))
      return
    }
    this.#forward(rt, req, res, id, undefined, (upstream) => this.#answer(upstream, req, res, exchange))
  }

  async #authorizationRequest (exchange: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rewrite = await this.#rewriteAuthorizationRequest(req, exchange)
    if ('refusal' in rewrite) return this.#refuse(res, exchange, rewrite.refusal.flow, rewrite.refusal.error)
    this.#forward(exchange.rt, req, res, exchange.id, rewrite.body, (upstream) => this.#answer(upstream, req, res, exchange))
  }

  /**
   * RFC 9126: the pushed body is rewritten like a POSTed authorization request; client
   * authentication (Basic header, client_secret or client_assertion in the body) is left as sent.
   * The PAR endpoint is a back-channel API: its errors are JSON, never a redirect.
   */
  async #pushedAuthorizationRequest (exchange: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rewrite = await this.#rewriteAuthorizationRequest(req, exchange)
    if ('refusal' in rewrite) throw rewrite.refusal.error
    this.#forward(exchange.rt, req, res, exchange.id, rewrite.body, (upstream) => this.#answer(upstream, req, res, exchange))
  }

  /** Sends the request to the legacy server, timing it to its response headers. */
  #forward (rt: Runtime, req: IncomingMessage, res: ServerResponse, id: string, body: Buffer | undefined, onResponse: (upstream: IncomingMessage) => void): void {
    const sent = performance.now()
    rt.proxy.forward(req, res, {
      body,
      onResponse: (upstream) => {
        this.metrics.upstreamResponded((performance.now() - sent) / 1000)
        // The answer's handling is synchronous up to its first asynchronous step (#settle): what it
        // throws on the way (a sealed state that does not open, say) is the request's failure.
        try {
          onResponse(upstream)
        } catch (error) {
          this.#fail(error, req, res, id)
        }
      },
      onError: (error) => this.#fail(error, req, res, id),
    })
  }

  /**
   * The authorization request step. GET (and HEAD, which servers route to the same handler): the query is rewritten in req.url. POST: the form body is
   * read (bounded) and returned rewritten, with the query's parameters moved into it, so the legacy
   * server reads exactly the parameters the gateway checked. Returns the body to send, if any, or a
   * refusal that goes to the client's (vouched for) redirect_uri.
   */
  async #rewriteAuthorizationRequest (req: IncomingMessage, exchange: Exchange): Promise<Rewrite> {
    const { config, policy, sealer } = exchange.rt
    const queryParameters = parseParameters(queryOf(exchange.publicUrl))
    let bodyParameters: ParameterList = []
    let originalBody: Buffer | undefined
    if (req.method === 'POST') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      if (contentType !== FORM_CONTENT_TYPE) {
        // The body cannot be read as parameters; a query that needs the gateway must not pass unread.
        if (planAuthorizationRequest(queryParameters, policy, sealer).kind === 'passthrough') return { body: undefined }
        throw new GatewayError('unsupported_media_type', `an authorization request with a JWT response mode must be sent as ${FORM_CONTENT_TYPE}`)
      }
      const read = await readBounded(req, config.limits.authorizationRequestBytes).catch((cause: unknown) => {
        throw new GatewayError('request_aborted', 'the authorization request body ended early', { cause })
      })
      if (!read.complete) throw new GatewayError('request_body_too_large', `the authorization request body is larger than ${config.limits.authorizationRequestBytes} bytes`)
      originalBody = Buffer.concat(read.chunks)
      bodyParameters = parseParameters(originalBody.toString('utf8'))
    }
    const plan = planAuthorizationRequest([...queryParameters, ...bodyParameters], policy, sealer)
    if (plan.kind === 'passthrough') return { body: originalBody }
    if (plan.kind === 'refuse') return { refusal: plan }
    exchange.trail.jarm = { event: 'jarm.request', fields: { clientId: plan.flow.clientId, mode: plan.flow.mode, upstreamMode: plan.upstreamMode } }
    if (req.method !== 'POST') {
      req.url = `${exchange.path}?${encodeParameters(plan.parameters)}`
      return { body: undefined }
    }
    req.url = exchange.path
    return { body: Buffer.from(encodeParameters(plan.parameters)) }
  }

  /** A refused request whose redirect_uri the config vouches for: a JARM error, never seen by the legacy server. */
  async #refuse (res: ServerResponse, exchange: Exchange, flow: Flow, error: GatewayError): Promise<void> {
    this.#logger.warn({ event: 'jarm.refused', requestId: exchange.id, clientId: flow.clientId, code: error.code }, error.message)
    return this.#respond(res, exchange, flow, [['error', error.oauthError], ['error_description', error.message]])
  }

  /** What to do with the legacy server's answer: most go straight back (#stream), synchronously. */
  #answer (upstream: IncomingMessage, req: IncomingMessage, res: ServerResponse, exchange: Exchange): void {
    const status = upstream.statusCode!
    const location = upstream.headers.location
    if (status >= 300 && status < 400 && location !== undefined) {
      const verdict = captureRedirect(location, exchange.publicUrl, (sealed) => openFlow(sealed, exchange.rt.sealer, this.#retiredSealers.current()))
      if (verdict.kind !== 'not_a_response') return this.#settle(this.#conclude(verdict, upstream, res, exchange), req, res, exchange.id)
    }
    const { config, signingAlgs } = exchange.rt
    if (status === 200 && isDiscoveryPath(exchange.path)) {
      return this.#settle(this.#rewriteJson(upstream, res, exchange, (document) => publishDiscovery(document, {
        issuer: config.issuer, responseModes: config.responseModes, signingAlgs, encryptionAlgs: ENCRYPTION_ALGS, encryptionEncs: ENCRYPTION_ENCS,
      })), req, res, exchange.id)
    }
    if (status === 200 && exchange.path === exchange.metadata.jwksPath) {
      return this.#settle(this.#rewriteJson(upstream, res, exchange, (document) => {
        const published = publishJwks(document, publishedKeys(config.keyRing.publicJwks, this.#retiredKeys.current()))
        if (published.collisions.length > 0) this.#logger.error({ event: 'jwks.kid_collision', kids: published.collisions }, 'a gateway key has the same kid as a legacy server key; clients may pick the wrong one')
        return published.document
      }), req, res, exchange.id)
    }
    // An empty answer (a plain redirect, say) has nothing to look into.
    if (upstream.headers['content-length'] !== '0' && PAGE_CONTENT_TYPES.test(upstream.headers['content-type'] ?? 'text/html') && req.method !== 'HEAD' && status !== 204 && status !== 304) {
      return this.#settle(this.#inspectPage(upstream, res, exchange), req, res, exchange.id)
    }
    this.#stream(upstream, res, exchange.id)
  }

  /** A step that finishes later: its failure becomes the request's error answer. */
  #settle (step: Promise<void>, req: IncomingMessage, res: ServerResponse, id: string): void {
    step.catch((error: unknown) => this.#fail(error, req, res, id))
  }

  /** Streams the legacy server's answer back untouched (less hop-by-hop headers). */
  #stream (upstream: IncomingMessage, res: ServerResponse, id: string, alreadyRead: Buffer[] = []): void {
    res.writeHead(upstream.statusCode!, upstream.statusMessage, answerHeaders(upstream, id))
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
    const limit = exchange.rt.config.limits.capturedPageBytes
    const body = await this.#readUpstream(upstream, limit)
    const decoded = await decodeForInspection(Buffer.concat(body.chunks), upstream.headers['content-encoding'], limit * 4)
    if (decoded.kind !== 'text') {
      // The gateway asks only for codings it can read (accept-encoding.ts): an answer it cannot
      // decode might carry a sealed flow, so it cannot be passed on.
      upstream.destroy()
      throw new GatewayError('capture_failed', decoded.kind === 'unsupported'
        ? `the identity server's answer uses content-encoding ${decoded.encoding}, which the gateway did not ask for and cannot read`
        : 'the identity server\'s answer cannot be decompressed')
    }
    if (!decoded.text.includes(SEALED_STATE_PREFIX)) return this.#stream(upstream, res, exchange.id, body.chunks)
    if (!body.complete || decoded.truncated) {
      upstream.destroy()
      throw new GatewayError('capture_too_large', `the identity server's answer to this sign-in is larger than ${limit} bytes and cannot be read`)
    }
    const verdict = captureFormPost(decoded.text, exchange.publicUrl, (sealed) => openFlow(sealed, exchange.rt.sealer, this.#retiredSealers.current()))
    if (verdict.kind === 'not_a_response') return this.#stream(upstream, res, exchange.id, body.chunks)
    return this.#conclude(verdict, upstream, res, exchange)
  }

  /** A captured answer becomes the JARM response; one that goes to the client but cannot be read fails closed. */
  async #conclude (verdict: Exclude<CaptureVerdict<Flow>, { kind: 'not_a_response' }>, upstream: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    if (verdict.kind === 'unreadable') {
      upstream.destroy()
      throw new GatewayError('capture_failed', `the identity server's answer to this sign-in cannot be read: ${verdict.reason}`)
    }
    return this.#respond(res, exchange, verdict.flow, verdict.parameters, upstream)
  }


  async #rewriteJson (upstream: IncomingMessage, res: ServerResponse, exchange: Exchange, rewrite: (document: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const limit = exchange.rt.config.limits.metadataBytes
    const body = await this.#readUpstream(upstream, limit)
    let document: unknown
    try {
      document = body.complete ? JSON.parse(decodeBody(Buffer.concat(body.chunks), upstream.headers['content-encoding'], limit) ?? '') : undefined
    } catch {
      document = undefined
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) return this.#stream(upstream, res, exchange.id, body.chunks)
    const json = JSON.stringify(rewrite(document as Record<string, unknown>))
    const headers = answerHeaders(upstream, exchange.id)
    delete headers['content-encoding']
    delete headers['etag']
    headers['content-length'] = String(Buffer.byteLength(json))
    headers['content-type'] = 'application/json; charset=utf-8'
    res.writeHead(200, headers)
    res.end(json)
  }

  /**
   * The capture's end: the JARM response for the flow, carried in the mode the client asked for.
   * `upstream` is the legacy server's answer it was captured from (absent for the gateway's own refusals).
   */
  async #respond (res: ServerResponse, exchange: Exchange, flow: Flow, parameters: ParameterList, upstream?: IncomingMessage): Promise<void> {
    upstream?.resume()
    const { tokens, config } = exchange.rt
    const jwt = await tokens.createResponse({ issuer: exchange.metadata.issuer, clientId: flow.clientId, state: flow.state, parameters })
    const error = parameters.find(([name]) => name === 'error')?.[1]
    const encryption = config.clients.get(flow.clientId)?.encryption
    const alg = tokens.algorithmFor(flow.clientId)
    const outcome = error === undefined ? 'success' : 'error'
    this.metrics.jarmResponse(flow.mode, alg, outcome)
    // A legacy server with a session answers at once: the request that started the flow may end it too.
    exchange.trail.jarm = { event: 'jarm.response', fields: { ...exchange.trail.jarm?.fields, clientId: flow.clientId, mode: flow.mode, alg, enc: encryption === undefined ? undefined : `${encryption.alg} ${encryption.enc}`, outcome, error } }
    const delivery = deliver(flow.mode, flow.redirectUri, jwt)
    // The legacy server's session cookies ride on the answer it gave; they must reach the browser.
    this.#send(res, exchange.id, delivery, upstream?.headers['set-cookie'])
  }

  #send (res: ServerResponse, id: string, delivery: Delivery, cookies?: string[]): void {
    const headers: Record<string, string | string[]> = { ...delivery.headers, 'content-length': String(Buffer.byteLength(delivery.body)), 'x-request-id': id }
    if (cookies !== undefined) headers['set-cookie'] = cookies
    res.writeHead(delivery.status, headers)
    res.end(delivery.body)
  }

  #fail (error: unknown, req: IncomingMessage, res: ServerResponse, id: string, render: (error: GatewayError, id: string) => Delivery = errorPage): void {
    // Every expected failure is a GatewayError; anything else is a bug, reported as one.
    /* c8 ignore next */
    const gatewayError = isGatewayError(error) ? error : new GatewayError('internal_error', 'the gateway failed to handle this request', { cause: error })
    const cause = gatewayError.cause instanceof Error ? gatewayError.cause.message : undefined
    if (res.destroyed && !res.headersSent) {
      // The client went away first (its leaving closed the upstream request): not a fault to alert on.
      this.#logger.info({ event: 'request.abandoned', requestId: id, method: req.method, code: gatewayError.code, cause })
    } else {
      this.metrics.failure(gatewayError.code)
      const log = gatewayError.status >= 500 ? this.#logger.error.bind(this.#logger) : this.#logger.warn.bind(this.#logger)
      log({ event: 'request.failed', requestId: id, method: req.method, code: gatewayError.code, status: gatewayError.status, cause }, gatewayError.message)
    }
    if (res.headersSent || res.destroyed) {
      res.destroy()
      return
    }
    this.#send(res, id, render(gatewayError, id))
  }
}
