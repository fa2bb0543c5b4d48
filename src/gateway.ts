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
 * A request is routed to its issuer once, by its path (src/issuers/), before anything else looks at
 * it; every step after runs on that issuer: its discovery, clients, keys and sealed flows.
 *
 * Everything built from the configuration is one Runtime, swapped whole by reload(): a request runs
 * with the configuration it started with, and what a reload retires stays usable for as long as
 * anything it made can still come back (src/rotation/retired-generations.ts).
 *
 * Each step lives in its own module; this file only wires them and owns req/res.
 */
import { randomUUID } from 'node:crypto'
import type { Agent, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { encodeParameters, parseParameters, type ParameterList } from './authorization-request/parameters.js'
import { matchesEndpointPath } from './authorization-request/endpoint-path.js'
import { mayAskForJwtMode, PUSHED_REQUEST_URI_PREFIX } from './authorization-request/request-object.js'
import { expandAuthorizationRequest, RequestRefusal, type Expansion } from './authorization-request/expand-request.js'
import { planAuthorizationRequest, planResumedRequest, type RequestChannel } from './authorization-request/plan-authorization-request.js'
import { expansionContext, forwardedParameters, gatewayParLocation, pushedRequestEndpoint, REQUEST_OBJECT_SIGNING_ALGS, type SignedRequestContext } from './authorization-request/signed-requests.js'
import { captureFormPost, maySendBrowserOn, refreshUrl } from './capture/form-post-capture.js'
import { captureRedirect, judgeSealedAnswer, locationText, responseParametersOf, type CaptureContext, type CaptureVerdict } from './capture/redirect-capture.js'
import type { GatewayConfig } from './config/load-config.js'
import { GatewayError, isGatewayError } from './errors.js'
import { bindingCookie, boundStates, clearingCookie, evictedBindings, hasFlowCookies, isBoundHere, pushedFlowCookie, withoutBindingCookies } from './flow-state/browser-binding.js'
import { FlowStateSealer, SEALED_STATE_PREFIX, type Flow } from './flow-state/sealed-state.js'
import { decodeBody, readBounded, type BoundedBody } from './http/bounded-body.js'
import { ENCRYPTION_ALGS, ENCRYPTION_ENCS } from './jarm/encrypt-response.js'
import { decodeForInspection } from './http/decode-for-inspection.js'
import { mayRenderAsDocument } from './http/document-type.js'
import { requestFramingError } from './http/message-framing.js'
import { queryOf, readRequestTarget } from './http/request-target.js'
import { IssuerRegistry, MISSPELLED_ISSUER_PATH, type Issuer, type Routed } from './issuers/issuer-registry.js'
import type { KeyRing } from './keys/signing-keys.js'
import { gatewayJwksAnswer, isDiscoveryPath, isGatewayJwksRequest, publishDiscovery, publishJwks } from './metadata/published-metadata.js'
import type { UpstreamMetadata } from './metadata/upstream-metadata.js'
import type { Logger } from './observability/logger.js'
import { GatewayMetrics } from './observability/metrics.js'
import { narrowAcceptEncodingHeader } from './proxy/accept-encoding.js'
import { prepareRequestHeaders, responseHeadersToCopy } from './proxy/forwarding-headers.js'
import { UpstreamProxy } from './proxy/upstream-proxy.js'
import { sameUpstreamTls } from './tls/tls-files.js'
import { pushedRequestError, pushedRequestMethodNotAllowed } from './pushed-requests/pushed-request-response.js'
import { PushedRequestSealer } from './pushed-requests/pushed-request-uri.js'
import { servePushedRequest } from './pushed-requests/serve-pushed-request.js'
import { createReplayStore } from './replay/create-replay-store.js'
import type { ReplayStore } from './replay/replay-store.js'
import { errorJson } from './respond/error-json.js'
import { errorPage } from './respond/error-page.js'
import { deliver, type Delivery } from './respond/response-delivery.js'
import { openFlow, publishedKeys, Retired, RETIRED_KEY_GRACE_MS } from './rotation/retired-generations.js'

/** An incoming X-Request-Id is kept only when it looks like one, so it cannot inject into logs or pages. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'

/** Everything built from one configuration. */
interface Runtime {
  readonly config: GatewayConfig
  readonly sealer: FlowStateSealer
  readonly proxy: UpstreamProxy
  readonly issuers: IssuerRegistry
  /** One-time use of pushed request_uris and jtis: this process's memory, or a shared Redis. */
  readonly replayStore: ReplayStore
  /** Seals the requests pushed to the gateway's own PAR endpoint into their request_uri. */
  readonly pushedSealer: PushedRequestSealer
  /** The public origins for an issuer: the configured ones and the issuer's own (worked out once per issuer). */
  readonly originsFor: (issuer: string) => PublicOrigins
}

/** Where clients reach the gateway, by Host. */
interface PublicOrigins {
  readonly all: ReadonlySet<string>
  /** Origin by its host (`URL.host`: lower case, no default port). */
  readonly byHost: ReadonlyMap<string, string>
  readonly issuerOrigin: string
  readonly issuerHost: string
}

/** A reload keeps the replay store (its connection and, in memory, its records) while its settings stay. */
function sameReplayStore (before: GatewayConfig | undefined, config: GatewayConfig): boolean {
  return before !== undefined && before.replayStore.url === config.replayStore.url && before.replayStore.commandTimeoutMs === config.replayStore.commandTimeoutMs
}

function publicOrigins (configured: readonly string[], issuer: string): PublicOrigins {
  const issuerUrl = new URL(issuer)
  const all = new Set([issuerUrl.origin, ...configured])
  const byHost = new Map<string, string>()
  for (const origin of all) byHost.set(new URL(origin).host, origin)
  // The issuer's own origin wins for its host.
  byHost.set(issuerUrl.host, issuerUrl.origin)
  return { all, byHost, issuerOrigin: issuerUrl.origin, issuerHost: issuerUrl.host }
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
interface Trail {
  jarm: JarmStep | undefined
  /** The sealed state of the flow this request started, if it started one (its answer binds it to the browser). */
  sealedHere?: string | undefined
  /**
   * The flow this request sealed, whatever the binding: a legacy server with a session answers the
   * authorization request at once, and its answer carries exactly this string back, which then
   * need not be decrypted again (#opener). `untilSeconds` is no later than the sealed expiry.
   */
  sealedFlow?: { readonly sealed: string, readonly flow: Flow, readonly untilSeconds: number } | undefined
  /** This request carries a pushed request (PAR's request_uri): its answer marks a PAR flow in progress. */
  pushedHere?: boolean
  /** The issuer the request was routed to (none for a path no issuer owns). */
  issuer?: string | undefined
}

interface Exchange {
  readonly rt: Runtime
  /** The issuer the request's path belongs to: every step runs on it. None on a path no issuer owns. */
  readonly issuer: Issuer | undefined
  readonly id: string
  readonly path: string
  /**
   * The URL the browser asked for, to resolve relative Locations and form actions: the gateway's
   * public origin (from the issuer or public_origins, never an unchecked Host) and the request target.
   */
  readonly publicUrl: string
  /** Whether cookies the gateway sets must be Secure (its public origin is HTTPS). */
  readonly secure: boolean
  /** The request's Cookie header as the browser sent it (the gateway's own cookies are not forwarded). */
  readonly cookie: string | undefined
  readonly capture: CaptureContext
  /** The request is for the authorization endpoint (any spelling of it). */
  readonly onAuthorizationEndpoint: boolean
  readonly metadata: UpstreamMetadata
  readonly trail: Trail
}

/** Set-Cookie values with more. Node reads every Set-Cookie of an answer into an array (IncomingMessage.headers). */
function withCookies (cookies: OutgoingHttpHeaders[string], more: readonly string[]): string[] {
  return [...(cookies as string[] | undefined ?? []), ...more]
}

/**
 * Whether a page's text may hold a sealed state: as written, or behind character references (the
 * parser decodes `&#106;g1.` in an attribute as `jg1.`), which then only the parser can tell.
 */
function mayCarrySealedState (text: string): boolean {
  return text.includes(SEALED_STATE_PREFIX) || (text.includes('&') && /&#|&period;/i.test(text) && /<(?:form|meta)\b/i.test(text))
}

/** A function of one string argument that remembers its last answer (the issuer rarely changes). */
function memoised<T> (compute: (key: string) => T): (key: string) => T {
  let lastKey: string | undefined
  let last: T | undefined
  return (key) => {
    if (key !== lastKey) {
      last = compute(key)
      lastKey = key
    }
    return last!
  }
}

export class Gateway {
  readonly metrics: GatewayMetrics
  readonly #logger: Logger
  readonly #now: () => number
  #runtime: Runtime
  /**
   * Public keys of replaced configurations, by the issuers' keysId (an issuer's own keys are
   * published at its own JWKS only), until the last response they signed has expired.
   */
  readonly #retiredKeys: Retired<ReadonlyMap<string, KeyRing['publicJwks']>>
  /** Sealers of replaced configurations, opening the flows they sealed until those expire. */
  readonly #retiredSealers: Retired<FlowStateSealer>
  /** Proxies to a previous upstream: their idle sockets close on their own; closed for good with the gateway. */
  readonly #retiredProxies: UpstreamProxy[] = []
  /** Replay stores of replaced configurations: requests in flight may still use them; closed with the gateway. */
  readonly #retiredReplayStores: ReplayStore[] = []

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
    return {
      config,
      sealer: new FlowStateSealer(config.state.secrets, config.state.ttlSeconds, this.#now),
      proxy,
      issuers: new IssuerRegistry(config, {
        onRefreshError: (error, issuer) => this.#logger.warn({ event: 'metadata.refresh_failed', issuer, err: error.message }, 'discovery refresh failed; keeping the last document'),
        now: this.#now,
        agent: proxy.agent,
        // Discovery caches carry over only while they fetch through the same upstream connection.
        previous: sameUpstream ? previous!.issuers : undefined,
      }),
      replayStore: sameReplayStore(before, config) ? previous!.replayStore : createReplayStore({ url: config.replayStore.url, commandTimeoutMs: config.replayStore.commandTimeoutMs, logger: this.#logger }),
      pushedSealer: new PushedRequestSealer(config.state.secrets, this.#now),
      originsFor: memoised((issuer: string) => publicOrigins(config.publicOrigins, issuer)),
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
    this.#retiredKeys.retire(previous.issuers.publicKeys(), previous.config.responseTtlSeconds * 1000 + RETIRED_KEY_GRACE_MS)
    this.#retiredSealers.retire(previous.sealer, previous.config.state.ttlSeconds * 1000)
    if (this.#runtime.proxy !== previous.proxy) this.#retiredProxies.push(previous.proxy)
    if (this.#runtime.replayStore !== previous.replayStore) this.#retiredReplayStores.push(previous.replayStore)
  }

  /** The one-time-use store new requests use (for the readiness check). */
  get replayStore (): ReplayStore {
    return this.#runtime.replayStore
  }

  /** The keep-alive agent to the legacy server (TLS settings included), for the readiness check. */
  get upstreamAgent (): Agent {
    return this.#runtime.proxy.agent
  }

  /**
   * Reads every listed issuer's discovery document once; the gateway also works if they come
   * later. Resolves with the first issuer's; the others' failures are logged here.
   */
  async start (): Promise<UpstreamMetadata> {
    const listed = this.#runtime.issuers.listed
    if (listed.length === 0) throw new Error('only {tenant} templates are configured: each tenant is discovered on first use')
    const settled = await Promise.allSettled(listed.map((issuer) => issuer.metadata.refresh()))
    for (const [index, result] of settled.entries()) {
      if (result.status === 'fulfilled') {
        if (result.value.issuerMismatch !== undefined) this.#logger.warn({ event: 'metadata.issuer_mismatch' }, result.value.issuerMismatch)
      } else if (index > 0) {
        this.#logger.warn({ event: 'metadata.unavailable', issuer: listed[index]!.issuer, err: (result.reason as Error).message }, 'an issuer\'s discovery document could not be read yet; it is fetched again on its next request')
      }
    }
    const first = settled[0]!
    if (first.status === 'rejected') throw first.reason
    return first.value
  }

  /** Every listed issuer's discovery, cached (for the readiness check: templates do not count). */
  metadata (): Promise<UpstreamMetadata[]> {
    return this.#runtime.issuers.listedMetadata()
  }

  close (): void {
    this.#runtime.proxy.close()
    for (const proxy of this.#retiredProxies) proxy.close()
    for (const store of [this.#runtime.replayStore, ...this.#retiredReplayStores]) store.close().catch(() => undefined)
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const incomingId = req.headers['x-request-id']
    const id = typeof incomingId === 'string' && REQUEST_ID_PATTERN.test(incomingId) ? incomingId : randomUUID()
    const target = readRequestTarget(req.method!, req.url!, req.rawHeaders)
    const refusal = isGatewayError(target) ? target : requestFramingError(req.headers)
    // A refused target is logged as no path at all: it may hold userinfo or a fragment (a token).
    const path = isGatewayError(target) ? '(refused target)' : target.path
    const trail: Trail = { jarm: undefined }
    this.metrics.requestStarted()
    res.on('close', () => this.#ended(req, res, id, path, started, trail))
    if (isGatewayError(target) || refusal !== undefined) {
      // Not a message the gateway can forward as it was meant: answered here, and the connection
      // ends with the answer, so nothing more on it is read as a request.
      res.setHeader('connection', 'close')
      return this.#fail(refusal, req, res, id)
    }
    // From here on the request is its target in origin-form, for the gateway and the legacy server
    // alike (RFC 9112 §3.2.2: an absolute-form target's authority is the Host).
    const url = target.target
    req.url = url
    if (target.host !== undefined) req.headers.host = target.host
    const rt = this.#runtime
    prepareRequestHeaders(req.headers, { remoteAddress: req.socket.remoteAddress, localPort: req.socket.localPort, trustForwarded: rt.config.trustForwardedHeaders, scheme: 'encrypted' in req.socket ? 'https' : 'http' })
    req.headers['x-request-id'] = id
    // Ask only for codings the gateway can read, so an answer it must inspect can always be read.
    narrowAcceptEncodingHeader(req.headers)
    // Without an issuer's metadata its authorization endpoint is unknown. Anything that may ask for a
    // JWT mode must not reach the legacy server, which could answer in plain text; the rest may.
    const mayAskForJwt = req.method !== 'GET' && req.method !== 'HEAD' ? true : url.includes('response_mode') || url.includes('request')
    const unknown = (error: unknown): void => {
      if (isDiscoveryPath(path) || mayAskForJwt) return this.#fail(error, req, res, id)
      this.#forward(rt, req, res, id, undefined, (upstream) => this.#stream(upstream, res, id))
    }
    const routed = rt.issuers.route(path, mayAskForJwt)
    if (routed instanceof Promise) {
      routed.then((issuer) => this.#runOn(rt, issuer, id, path, trail, req, res, unknown), unknown)
      return
    }
    this.#runOn(rt, routed, id, path, trail, req, res, unknown)
  }

  /** The request on its issuer, once its metadata is known; a path no issuer owns passes through (#unowned). */
  #runOn (rt: Runtime, issuer: Routed, id: string, path: string, trail: Trail, req: IncomingMessage, res: ServerResponse, unknown: (error: unknown) => void): void {
    if (issuer === MISSPELLED_ISSUER_PATH) return this.#fail(new GatewayError('issuer_path_misspelled', 'this address spells an issuer\'s path in another case, which this server may read as another issuer; use the issuer\'s own spelling'), req, res, id)
    if (issuer === undefined) return this.#unowned(rt, id, path, trail, req, res)
    const metadata = issuer.metadata.get()
    if (!(metadata instanceof Promise)) return this.#route(this.#exchange(rt, issuer, id, path, metadata, trail, req), req, res)
    metadata.then((known) => this.#route(this.#exchange(rt, issuer, id, path, known, trail, req), req, res), unknown)
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
    const line = { event: jarm?.event ?? 'request', requestId: id, method: req.method, path, status, completed, ms: Math.round((performance.now() - started) * 1000) / 1000, issuer: trail.issuer, ...jarm?.fields }
    if (notable) this.#logger.info(line)
    else this.#logger.debug(line)
  }

  /**
   * The request as the pipeline sees it once the issuer is known. Its public origin is the one of
   * the gateway's public origins its Host names, or else the issuer's: a client's Host never
   * chooses the URLs the legacy server builds (discovery, redirects) nor the base relative ones
   * resolve against, so an unknown Host is replaced by the issuer's before the request goes on.
   */
  #exchange (rt: Runtime, issuer: Issuer | undefined, id: string, path: string, metadata: UpstreamMetadata, trail: Trail, req: IncomingMessage): Exchange {
    const { config } = rt
    const origins = rt.originsFor(metadata.issuer)
    const forwardedHost = config.trustForwardedHeaders ? req.headers['x-forwarded-host'] : undefined
    const host = (typeof forwardedHost === 'string' ? forwardedHost.split(',')[0]!.trim() : req.headers.host)?.toLowerCase()
    let origin = host === undefined ? undefined : origins.byHost.get(host)
    if (origin === undefined) {
      origin = origins.issuerOrigin
      req.headers.host = origins.issuerHost
      req.headers['x-forwarded-host'] = origins.issuerHost
    }
    const cookie = req.headers.cookie
    if (cookie !== undefined) {
      const forwarded = withoutBindingCookies(cookie)
      if (forwarded === undefined) delete req.headers.cookie
      else req.headers.cookie = forwarded
    }
    const onFlowPath = !metadata.nonFlowPaths.some((endpoint) => matchesEndpointPath(path, endpoint))
    trail.issuer = metadata.issuer
    return {
      rt, issuer, id, path, metadata, trail, cookie,
      onAuthorizationEndpoint: matchesEndpointPath(path, metadata.authorizationEndpointPath),
      // An asterisk-form target (OPTIONS *) names the server, not a path: its base is the origin.
      publicUrl: origin + (req.url === '*' ? '/' : req.url!),
      secure: origin.startsWith('https:'),
      capture: { publicOrigins: origins.all, onFlowPath, extraResponseParameters: config.extraResponseParameters },
    }
  }

  /**
   * A request on a path no issuer owns (with `issuers`) passes through, with two guards. It is
   * refused when it may ask for a JWT response mode (its query, or its form body, read bounded; a
   * form body the gateway cannot read is refused too): no rewrite happens here, and the legacy
   * server (an issuer the gateway was not told of) would answer it in plain text. And its answer is
   * judged like any other: one that carries a sealed flow (a login page shared by several realms
   * redirecting, say) fails closed, since no issuer here may answer it.
   */
  #unowned (rt: Runtime, id: string, path: string, trail: Trail, req: IncomingMessage, res: ServerResponse): void {
    const refuse = (): void => this.#fail(new GatewayError('no_issuer_for_path', 'no issuer this gateway fronts is at this path, so it cannot answer a JWT response mode here; use the authorization endpoint of the issuer\'s discovery document'), req, res, id)
    if (mayAskForJwtMode(parseParameters(queryOf(req.url!)))) return refuse()
    const exchange = this.#unownedExchange(rt, id, path, trail, req)
    const answer = (upstream: IncomingMessage): void => this.#answer(upstream, req, res, exchange)
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (contentType !== FORM_CONTENT_TYPE) return this.#forward(rt, req, res, id, undefined, answer)
    this.#readForm(req, rt.config.limits.authorizationRequestBytes, 'form').then((body) => {
      if (mayAskForJwtMode(parseParameters(body.toString('utf8')))) return refuse()
      this.#forward(rt, req, res, id, body, answer)
    }).catch((error: unknown) => this.#fail(error, req, res, id))
  }

  /**
   * The exchange of a path no issuer owns: no issuer, so no sealed flow opens here; its public
   * origin is that of the issuer its Host names, or else the first listed one's.
   */
  #unownedExchange (rt: Runtime, id: string, path: string, trail: Trail, req: IncomingMessage): Exchange {
    const issuers = rt.config.issuers.map((entry) => entry.issuer!)
    const named = issuers.find((issuer) => new URL(issuer).host === req.headers.host?.toLowerCase()) ?? issuers[0]!
    const metadata: UpstreamMetadata = { issuer: named, document: {}, authorizationEndpointPath: path, jwksPath: undefined, nonFlowPaths: [], issuerMismatch: undefined }
    const exchange = this.#exchange(rt, undefined, id, path, metadata, trail, req)
    trail.issuer = undefined
    return { ...exchange, onAuthorizationEndpoint: false }
  }

  /** Which step a request goes through, once the legacy server's endpoints are known. */
  #route (exchange: Exchange, req: IncomingMessage, res: ServerResponse): void {
    const { rt, id, path, metadata } = exchange
    // A legacy server without jwks_uri: the gateway's keys are served by the gateway itself.
    if (isGatewayJwksRequest(req.method, path, metadata)) return this.#send(res, id, gatewayJwksAnswer(this.#publishedKeysOf(exchange.issuer!)))
    // Every method: a server that routes any method to its authorization endpoint must not get a
    // JWT-mode request the gateway did not rewrite (#rewriteAuthorizationRequest refuses those).
    if (exchange.onAuthorizationEndpoint) {
      this.#authorizationRequest(exchange, req, res).catch((error: unknown) => this.#fail(error, req, res, id))
      return
    }
    const gatewayPar = gatewayParLocation(rt.config, metadata)
    if (gatewayPar !== undefined && matchesEndpointPath(path, gatewayPar.path)) {
      this.#servePushedRequest(exchange, req, res).catch((error: unknown) => {
        this.#fail(error instanceof RequestRefusal ? error.error : error, req, res, id, (failure) => pushedRequestError(failure, metadata.issuer))
      })
      return
    }
    if (metadata.pushedAuthorizationRequestPath !== undefined && matchesEndpointPath(path, metadata.pushedAuthorizationRequestPath)) {
      this.#pushedAuthorizationRequest(exchange, req, res).catch((error: unknown) => this.#fail(error, req, res, id, errorJson))
      return
    }
    this.#forward(rt, req, res, id, undefined, (upstream) => this.#answer(upstream, req, res, exchange))
  }

  async #authorizationRequest (exchange: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rewrite = await this.#rewriteAuthorizationRequest(req, exchange, 'front')
    if ('refusal' in rewrite) return this.#refuse(res, exchange, rewrite.refusal.flow, rewrite.refusal.error)
    this.#forward(exchange.rt, req, res, exchange.id, rewrite.body, (upstream) => this.#answer(upstream, req, res, exchange))
  }

  /**
   * RFC 9126: the pushed body is rewritten like a POSTed authorization request; client
   * authentication (Basic header, client_secret or client_assertion in the body) is left as sent.
   * The PAR endpoint is a back-channel API: its errors are JSON, never a redirect.
   */
  async #pushedAuthorizationRequest (exchange: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rewrite = await this.#rewriteAuthorizationRequest(req, exchange, 'pushed')
    if ('refusal' in rewrite) throw rewrite.refusal.error
    this.#forward(exchange.rt, req, res, exchange.id, rewrite.body, (upstream) => this.#answer(upstream, req, res, exchange))
  }

  /**
   * The PAR endpoint the gateway serves itself (src/pushed-requests/serve-pushed-request.ts): a
   * form POST, the client authenticated, the request checked and sealed into its request_uri.
   * Answers are JSON (RFC 9126 §2.2, §2.3); nothing reaches the legacy server.
   */
  async #servePushedRequest (exchange: Exchange, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return this.#send(res, exchange.id, pushedRequestMethodNotAllowed())
    const body = await this.#readForm(req, exchange.rt.config.limits.authorizationRequestBytes, 'pushed authorization request')
    const socket = req.socket as TLSSocket
    // RFC 8705 §2: only a certificate the TLS handshake verified authenticates anyone.
    const clientCertificate = 'encrypted' in socket && socket.authorized ? socket.getPeerX509Certificate() : undefined
    const delivery = await servePushedRequest({ authorization: req.headers.authorization, parameters: parseParameters(body.toString('utf8')), clientCertificate }, pushedRequestEndpoint(this.#signedContext(exchange)))
    exchange.trail.jarm = { event: 'jarm.request', fields: { pushed: 'gateway' } }
    this.#send(res, exchange.id, delivery)
  }

  /** What JAR and PAR need of this exchange's issuer (src/authorization-request/signed-requests.ts). */
  #signedContext (exchange: Exchange): SignedRequestContext {
    const { rt } = exchange
    return { config: rt.config, issuer: exchange.issuer!, metadata: exchange.metadata, replayStore: rt.replayStore, pushedSealer: rt.pushedSealer, flowSealer: rt.sealer, now: this.#now }
  }

  /**
   * A form body read bounded (the authorization and PAR endpoints, a path no issuer owns): anything
   * else is refused, never passed on unread. A multipart or JSON body may be read as parameters by a
   * legacy server all the same, and one that decodes a content coding would read parameters the
   * gateway never saw. `noun` names the request in the messages ("authorization request").
   */
  async #readForm (req: IncomingMessage, limit: number, noun: string): Promise<Buffer> {
    const article = /^[aeiou]/.test(noun) ? 'an' : 'a'
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (contentType !== FORM_CONTENT_TYPE) throw new GatewayError('unsupported_media_type', `${article} ${noun} must be sent as ${FORM_CONTENT_TYPE}`)
    const coding = req.headers['content-encoding']
    if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') throw new GatewayError('unsupported_media_type', `${article} ${noun} body must not be content-encoded`)
    const read = await readBounded(req, limit).catch((cause: unknown) => {
      throw new GatewayError('request_aborted', `the ${noun} body ended early`, { cause })
    })
    if (!read.complete) throw new GatewayError('request_body_too_large', `the ${noun} body is larger than ${limit} bytes`)
    return Buffer.concat(read.chunks)
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
  async #rewriteAuthorizationRequest (req: IncomingMessage, exchange: Exchange, channel: RequestChannel): Promise<Rewrite> {
    const { config, sealer } = exchange.rt
    const { policy } = exchange.issuer!
    const queryParameters = parseParameters(queryOf(req.url!))
    let bodyParameters: ParameterList = []
    let originalBody: Buffer | undefined
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      // No other method is an authorization request (RFC 6749 §3.1, RFC 9126 §2.1); one that would
      // be, were the legacy server to route it so, is refused rather than passed unread.
      if (!hasBody && planAuthorizationRequest(queryParameters, policy, sealer, channel).kind === 'passthrough') return { body: undefined }
      throw new GatewayError('method_not_allowed', `the authorization endpoint takes GET or POST, not ${req.method!}`)
    }
    if (req.method !== 'POST' && hasBody) {
      // Servers that parse bodies for every method would read parameters the gateway never saw.
      throw new GatewayError('unexpected_body', `an authorization request by ${req.method} must not have a body`)
    }
    if (req.method === 'POST') {
      originalBody = await this.#readForm(req, config.limits.authorizationRequestBytes, 'authorization request')
      bodyParameters = parseParameters(originalBody.toString('utf8'))
    }
    const resumed = req.method === 'POST' && channel === 'front' ? planResumedRequest(queryParameters, bodyParameters, this.#opener(exchange)) : undefined
    if (resumed !== undefined) {
      // The legacy server's own page posted the gateway's rewrite back with the client's query still
      // in the URL: the query is made to say what the body says, and the body goes on as it came.
      req.url = `${exchange.path}?${encodeParameters(resumed)}`
      return { body: originalBody }
    }
    const sent = [...queryParameters, ...bodyParameters]
    const signed = this.#signedContext(exchange)
    // A request object or a pushed request of the gateway's stands for other parameters, and each
    // client's policy holds (src/authorization-request/expand-request.ts).
    let expansion: Expansion
    try {
      expansion = await expandAuthorizationRequest(sent, expansionContext(signed, channel))
    } catch (error) {
      if (!(error instanceof RequestRefusal)) throw error
      if (error.delivery === undefined || channel === 'pushed') throw error.error
      return { refusal: { flow: { ...error.delivery }, error: error.error } }
    }
    const expanded = expansion.kind === 'expanded' ? expansion.parameters : undefined
    // Taken before sealing: the flow's sealed expiry is then never earlier than this one.
    const untilSeconds = Math.floor(this.#now() / 1000) + config.state.ttlSeconds
    const plan = planAuthorizationRequest(expanded ?? sent, policy, sealer, channel)
    if (plan.kind === 'refuse') return { refusal: plan }
    if (plan.kind === 'passthrough') {
      if (expanded !== undefined) return this.#rewritten(req, exchange, forwardedParameters(signed, expanded))
      // A browser arriving with a pushed request's handle: a flow the gateway may have sealed at the
      // PAR endpoint is in progress here (src/flow-state/browser-binding.ts, PUSHED_MARK).
      if (channel === 'front' && config.state.bindToBrowser && sent.some(([name, value]) => name === 'request_uri' && value.startsWith(PUSHED_REQUEST_URI_PREFIX))) exchange.trail.pushedHere = true
      return { body: originalBody }
    }
    exchange.trail.jarm = { event: 'jarm.request', fields: { clientId: plan.flow.clientId, mode: plan.flow.mode, upstreamMode: plan.upstreamMode, ...(expansion.kind === 'expanded' ? { signed: expansion.signed } : {}) } }
    if (config.state.bindToBrowser && channel === 'front') exchange.trail.sealedHere = plan.sealedState
    if (channel === 'front') exchange.trail.sealedFlow = { sealed: plan.sealedState, flow: plan.flow, untilSeconds }
    return this.#rewritten(req, exchange, expanded === undefined ? plan.parameters : forwardedParameters(signed, plan.parameters))
  }

  /** The request goes on with these parameters: in the query of a GET or HEAD, as the form body of a POST. */
  #rewritten (req: IncomingMessage, exchange: Exchange, parameters: ParameterList): Rewrite {
    if (req.method !== 'POST') {
      req.url = `${exchange.path}?${encodeParameters(parameters)}`
      return { body: undefined }
    }
    req.url = exchange.path
    return { body: Buffer.from(encodeParameters(parameters)) }
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
      const verdict = captureRedirect(location, exchange.publicUrl, this.#opener(exchange), this.#captureContext(exchange))
      const unstated = verdict.kind === 'not_a_response' ? this.#errorWithoutState(location, exchange) : verdict
      if (unstated.kind !== 'not_a_response') return this.#settle(this.#conclude(unstated, upstream, res, exchange), req, res, exchange.id)
    }
    // A Refresh header (HTML §7.11.1 reads it like <meta http-equiv=refresh>) sends the browser on
    // as a Location does, whatever the status and type of the answer.
    const refresh = upstream.headers['refresh']
    const refreshTo = typeof refresh === 'string' ? refreshUrl(refresh) : undefined
    if (refreshTo !== undefined) {
      const verdict = captureRedirect(refreshTo, exchange.publicUrl, this.#opener(exchange), this.#captureContext(exchange))
      if (verdict.kind !== 'not_a_response') return this.#settle(this.#conclude(verdict, upstream, res, exchange), req, res, exchange.id)
    }
    const { issuer } = exchange
    if (issuer === undefined) return this.#inspectOrStream(upstream, req, res, exchange)
    if (status === 200 && isDiscoveryPath(exchange.path)) {
      const { config } = exchange.rt
      const keyRing = issuer.settings.keyRing
      const clients = [...issuer.settings.clients.values()]
      return this.#settle(this.#rewriteJson(upstream, res, exchange, (document) => publishDiscovery(document, {
        issuer: issuer.issuer, responseModes: config.responseModes, signingAlgs: issuer.signingAlgs, encryptionAlgs: ENCRYPTION_ALGS, encryptionEncs: ENCRYPTION_ENCS, jwksUri: exchange.metadata.gatewayJwks?.uri,
        requestObjects: { signingAlgs: REQUEST_OBJECT_SIGNING_ALGS, encryptionAlgs: keyRing.requestObjectEncryptionAlgs, encryptionEncs: keyRing.requestObjectEncryptionEncs },
        pushedAuthorizationRequestEndpoint: gatewayParLocation(config, exchange.metadata)?.uri,
        // RFC 9126 §5: only when no client may do without (an unlisted one could).
        requirePushedAuthorizationRequests: config.unlistedClients === 'refuse' && clients.length > 0 && clients.every((client) => client.requirePushedAuthorizationRequests),
      })), req, res, exchange.id)
    }
    if (status === 200 && exchange.path === exchange.metadata.jwksPath) {
      return this.#settle(this.#rewriteJson(upstream, res, exchange, (document) => {
        const published = publishJwks(document, this.#publishedKeysOf(issuer))
        if (published.collisions.length > 0) this.#logger.error({ event: 'jwks.kid_collision', kids: published.collisions }, 'a gateway key has the same kid as a legacy server key; clients may pick the wrong one')
        return published.document
      }), req, res, exchange.id)
    }
    this.#inspectOrStream(upstream, req, res, exchange)
  }

  /**
   * An empty answer (a plain redirect, say) has nothing to look into; only what a browser may
   * render as a page can deliver a form_post response, and everything else streams from its first
   * byte (document-type.ts).
   */
  #inspectOrStream (upstream: IncomingMessage, req: IncomingMessage, res: ServerResponse, exchange: Exchange): void {
    const status = upstream.statusCode!
    if (upstream.headers['content-length'] !== '0' && mayRenderAsDocument(upstream.headers['content-type']) && req.method !== 'HEAD' && status !== 204 && status !== 304) {
      return this.#settle(this.#inspectPage(upstream, res, exchange), req, res, exchange.id)
    }
    this.#stream(upstream, res, exchange.id, [], this.#binding(exchange))
  }

  /** The issuer's public keys with those a reload retired that it published: its own, or the shared ones. */
  #publishedKeysOf (issuer: Issuer): ReturnType<typeof publishedKeys> {
    const retired = this.#retiredKeys.current().map((keys) => keys.get(issuer.keysId) ?? [])
    return publishedKeys(issuer.settings.keyRing.publicJwks, retired)
  }

  /** Opens a sealed state for this exchange: a flow of another issuer is refused, so it is never answered as this one's. */
  #opener (exchange: Exchange): (sealed: string) => Flow {
    return (sealed) => {
      // The very string this request sealed a moment ago, in this process: authentic by
      // construction, its flow is the one in hand (the expiry still holds). Anything else, even a
      // string that differs in one character, is opened and authenticated.
      const here = exchange.trail.sealedFlow
      const flow = here !== undefined && sealed === here.sealed && Math.floor(this.#now() / 1000) < here.untilSeconds
        ? here.flow
        : openFlow(sealed, exchange.rt.sealer, this.#retiredSealers.current())
      if (exchange.issuer === undefined) throw new GatewayError('flow_state_wrong_issuer', 'this sign-in was answered at an address no issuer of this gateway owns; start again from the application')
      if (!exchange.issuer.owns(flow)) throw new GatewayError('flow_state_wrong_issuer', 'this sign-in was started at another issuer of this server; start again from the application')
      return flow
    }
  }

  /**
   * The Set-Cookies that bind the flow this request started to the browser (ending the oldest
   * bindings beyond the bound), or mark a PAR flow in progress; none for any other request.
   */
  #binding (exchange: Exchange): string[] | undefined {
    const { sealedHere, pushedHere } = exchange.trail
    const { ttlSeconds } = exchange.rt.config.state
    if (sealedHere !== undefined) return [bindingCookie(sealedHere, exchange.secure, ttlSeconds), ...evictedBindings(exchange.cookie, exchange.secure)]
    return pushedHere === true ? [pushedFlowCookie(exchange.secure, ttlSeconds)] : undefined
  }

  /**
   * A redirect with an `error` and no `state` at all (some servers drop it from `prompt=none`
   * errors) in a browser with flows bound to it: the error of the one bound flow whose redirect_uri
   * it goes to, wrapped like any other. Two such flows cannot be told apart: that fails closed.
   */
  #errorWithoutState (location: string, exchange: Exchange): CaptureVerdict<Flow> {
    // Only the authorization endpoint's own answer (where servers drop the state of a prompt=none
    // error): elsewhere on the flow, an open redirect of the legacy server's (a login page's
    // return_to) would have the gateway sign an error with any description for the bound flow.
    if (!exchange.rt.config.state.bindToBrowser || !exchange.onAuthorizationEndpoint || (exchange.cookie === undefined && exchange.trail.sealedHere === undefined) || !location.includes('error=')) return { kind: 'not_a_response' }
    let url: URL
    try {
      url = new URL(locationText(location), exchange.publicUrl)
    } catch {
      return { kind: 'not_a_response' }
    }
    const fragment = new URLSearchParams(url.hash.slice(1))
    const where = url.searchParams.has('error') ? 'query' : fragment.has('error') ? 'fragment' : undefined
    if (where === undefined || url.searchParams.has('state') || fragment.has('state')) return { kind: 'not_a_response' }
    const candidates: Array<{ flow: Flow, sealed: string, parameters: ParameterList }> = []
    // The flow this very request started (a prompt=none error answered at once), and those bound before.
    const { sealedHere } = exchange.trail
    const open = this.#opener(exchange)
    for (const sealed of new Set([...(sealedHere === undefined ? [] : [sealedHere]), ...boundStates(exchange.cookie)])) {
      try {
        const flow = open(sealed)
        // Its parameters, when the error goes to that flow's redirect_uri with its own query kept.
        const parameters = responseParametersOf({ url, where, sealedState: sealed }, flow.redirectUri)
        if (parameters !== undefined) candidates.push({ flow, sealed, parameters })
      } catch {
        // A cookie whose flow expired or was sealed with a retired secret: not a candidate.
      }
    }
    if (candidates.length === 0) return { kind: 'not_a_response' }
    if (candidates.length > 1) return { kind: 'unreadable', reason: 'an error without state reached a redirect_uri that several sign-ins in this browser wait on' }
    const { flow, sealed, parameters } = candidates[0]!
    return judgeSealedAnswer(flow, sealed, url, [...url.searchParams, ...fragment], () => parameters, exchange.capture)
  }

  /**
   * What a capture of this request's answer knows: the exchange's, and, when this very request
   * sealed a flow (on the authorization endpoint, always on the flow path), that flow's
   * redirect_uri, where a credential without the sealed state fails closed (redirect-capture.ts).
   */
  #captureContext (exchange: Exchange): CaptureContext {
    const here = exchange.trail.sealedFlow
    return here === undefined ? exchange.capture : { ...exchange.capture, sealedHere: here.flow.redirectUri }
  }

  /** A step that finishes later: its failure becomes the request's error answer. */
  #settle (step: Promise<void>, req: IncomingMessage, res: ServerResponse, id: string): void {
    step.catch((error: unknown) => this.#fail(error, req, res, id))
  }

  /** Streams the legacy server's answer back untouched (less hop-by-hop headers). */
  #stream (upstream: IncomingMessage, res: ServerResponse, id: string, alreadyRead: Buffer[] = [], setCookies?: readonly string[]): void {
    const headers = answerHeaders(upstream, id)
    if (setCookies !== undefined) headers['set-cookie'] = withCookies(headers['set-cookie'], setCookies)
    res.writeHead(upstream.statusCode!, upstream.statusMessage, headers)
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
    const decoded = await decodeForInspection(Buffer.concat(body.chunks), upstream.headers['content-encoding'], limit * 4, upstream.headers['content-type'])
    if (decoded.kind !== 'text') {
      // The gateway asks only for codings it can read (accept-encoding.ts): an answer it cannot
      // decode might carry a sealed flow, so it cannot be passed on.
      upstream.destroy()
      throw new GatewayError('capture_failed', decoded.kind === 'unsupported'
        ? `the identity server's answer uses content-encoding ${decoded.encoding}, which the gateway did not ask for and cannot read`
        : 'the identity server\'s answer cannot be decompressed')
    }
    const whole = body.complete && !decoded.truncated
    // A page too large to read whole may hold a flow's form past the limit: it fails closed when a
    // flow can be in progress in this browser on the authorization flow (a flow is bound to it, or
    // binding is off so the gateway cannot tell), and is passed on otherwise.
    const flowMayBeHere = exchange.capture.onFlowPath && (!exchange.rt.config.state.bindToBrowser || exchange.trail.sealedHere !== undefined || exchange.trail.pushedHere === true || hasFlowCookies(exchange.cookie))
    const carries = mayCarrySealedState(decoded.text)
    if (carries ? !whole : !whole && flowMayBeHere) {
      upstream.destroy()
      throw new GatewayError('capture_too_large', `the identity server's answer during this sign-in is larger than ${limit} bytes and cannot be read`)
    }
    const context = this.#captureContext(exchange)
    // A page with no sealed state is read only on the request that sealed a flow, and only when it
    // may send the browser on by itself (a credential without the state fails closed there).
    const read = carries || (context.sealedHere !== undefined && maySendBrowserOn(decoded.text))
    const verdict = read ? captureFormPost(decoded.text, exchange.publicUrl, this.#opener(exchange), context) : { kind: 'not_a_response' as const }
    if (verdict.kind === 'not_a_response') return this.#stream(upstream, res, exchange.id, body.chunks, this.#binding(exchange))
    return this.#conclude(verdict, upstream, res, exchange)
  }

  /** A captured answer becomes the JARM response; one that goes to the client but cannot be read fails closed. */
  async #conclude (verdict: Exclude<CaptureVerdict<Flow>, { kind: 'not_a_response' }>, upstream: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    if (verdict.kind === 'unreadable') {
      upstream.destroy()
      throw new GatewayError('capture_failed', `the identity server's answer to this sign-in cannot be read: ${verdict.reason}`)
    }
    // The flow must have been started in this browser: by this very request, or one that holds its cookie.
    const { sealedState } = verdict
    const bound = sealedState === exchange.trail.sealedHere || isBoundHere(exchange.cookie, sealedState, exchange.secure)
    if (exchange.rt.config.state.bindToBrowser && verdict.flow.pushed !== true && !bound) {
      upstream.destroy()
      throw new GatewayError('flow_not_bound', 'this sign-in was started in another browser, or this browser lost its cookie; start again from the application')
    }
    const clearing = sealedState === exchange.trail.sealedHere || !bound ? undefined : clearingCookie(sealedState, exchange.secure)
    return this.#respond(res, exchange, verdict.flow, verdict.parameters, upstream, clearing)
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
  async #respond (res: ServerResponse, exchange: Exchange, flow: Flow, parameters: ParameterList, upstream?: IncomingMessage, setCookie?: string): Promise<void> {
    upstream?.resume()
    const { tokens, settings, label } = exchange.issuer!
    const jwt = await tokens.createResponse({ issuer: exchange.metadata.issuer, clientId: flow.clientId, state: flow.state, parameters })
    const error = parameters.find(([name]) => name === 'error')?.[1]
    const encryption = settings.clients.get(flow.clientId)?.encryption
    const alg = tokens.algorithmFor(flow.clientId)
    const outcome = error === undefined ? 'success' : 'error'
    this.metrics.jarmResponse(flow.mode, alg, outcome, label(exchange.metadata))
    // A legacy server with a session answers at once: the request that started the flow may end it too.
    exchange.trail.jarm = { event: 'jarm.response', fields: { ...exchange.trail.jarm?.fields, clientId: flow.clientId, mode: flow.mode, alg, enc: encryption === undefined ? undefined : `${encryption.alg} ${encryption.enc}`, outcome, error } }
    const delivery = deliver(flow.mode, flow.redirectUri, jwt)
    // The legacy server's session cookies ride on the answer it gave; they must reach the browser.
    const cookies = upstream?.headers['set-cookie']
    this.#send(res, exchange.id, delivery, setCookie === undefined ? cookies : withCookies(cookies, [setCookie]))
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
