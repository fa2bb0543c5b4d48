/**
 * The operator's endpoints: liveness, readiness and Prometheus metrics. Served before the gateway
 * pipeline (on the main port, or alone on the admin port), so probes are neither proxied nor
 * logged as requests; only readiness changes are logged.
 *
 * - liveness (`/healthz`): 200 while the process serves requests, draining included, so an
 *   orchestrator never kills a gateway that is finishing its requests.
 * - readiness (`/readyz`): 200 when the configuration and keys are loaded (always, once listening),
 *   the legacy server's discovery is known and the legacy server answers within the timeout;
 *   503 otherwise, and from the moment a stop begins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ObservabilityConfig } from '../config/load-config.js'
import type { Gateway } from '../gateway.js'
import { pathOf } from '../http/request-target.js'
import { getFromUpstream } from '../http/upstream-request.js'
import { UpstreamTlsError } from '../tls/upstream-tls.js'
import type { Logger } from './logger.js'

/** Bytes read from the legacy server's answer to the readiness probe: only its status matters. */
const READINESS_PROBE_BYTES = 1024 * 1024

export interface ReadinessReport {
  readonly ready: boolean
  /** Each check: `ok`, or a short reason (never an address or a secret: the page may be public). */
  readonly checks: Readonly<Record<string, string>>
}

function within<T> (promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The upstream check's value for a failed probe: `tls_failed`, `timeout` or `unreachable`. */
function readinessFailure (error: Error): string {
  if (error instanceof UpstreamTlsError) return 'tls_failed'
  return /no answer within/.test(error.message) ? 'timeout' : 'unreachable'
}

export class AdminRoutes {
  readonly #gateway: Gateway
  readonly #options: ObservabilityConfig
  readonly #logger: Logger
  #draining = false
  #lastReady: boolean | undefined

  constructor (gateway: Gateway, options: ObservabilityConfig, logger: Logger) {
    this.#gateway = gateway
    this.#options = options
    this.#logger = logger
  }

  /** From now on readiness answers 503: the orchestrator stops sending traffic while requests drain. */
  startDraining (): void {
    this.#draining = true
  }

  async readiness (): Promise<ReadinessReport> {
    const { upstream, keyRing } = this.#gateway.config
    const agent = this.#gateway.upstreamAgent
    const timeoutMs = this.#options.readyTimeoutMs
    const [metadata, reachable] = await Promise.all([
      within(this.#gateway.metadata(), timeoutMs).then(() => 'ok', () => 'unavailable'),
      getFromUpstream(new URL('/', upstream.url), { timeoutMs, maxBytes: READINESS_PROBE_BYTES, agent }).then(() => 'ok', readinessFailure),
    ])
    // A shared replay store is reported, not required: plain JARM never needs it (PAR and jti checks
    // fail closed without it), and every replica sharing one Redis would leave the balancer at once.
    const replayStore = this.#gateway.config.replayStore.url === undefined ? undefined : this.#gateway.replayStore.status
    const checks = { draining: this.#draining ? 'draining' : 'ok', config: 'ok', keys: `ok (${keyRing.keys.length})`, metadata, upstream: reachable, ...(replayStore === undefined ? {} : { replay_store: replayStore }) }
    const ready = !this.#draining && metadata === 'ok' && reachable === 'ok'
    if (ready !== this.#lastReady) {
      this.#lastReady = ready
      this.#logger[ready ? 'info' : 'warn']({ event: 'readiness', ready, checks }, ready ? 'ready' : 'not ready')
    }
    return { ready, checks }
  }

  /** Answers a GET or HEAD for one of the three paths (query ignored); false for anything else. */
  handle (req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const path = pathOf(req.url!)
    if (path !== this.#options.healthPath && path !== this.#options.readyPath && path !== this.#options.metricsPath) return false
    const send = (status: number, contentType: string, body: string): void => {
      res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (path === this.#options.healthPath) {
      send(200, 'application/json', JSON.stringify({ status: 'ok' }))
    } else if (path === this.#options.readyPath) {
      void this.readiness().then((report) => send(report.ready ? 200 : 503, 'application/json', JSON.stringify({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks })))
    } else {
      // The metrics path. A collector that throws is a bug; the scrape fails visibly rather than the process.
      this.#gateway.metrics.text().then((text) => send(200, this.#gateway.metrics.contentType, text), (error: Error) => send(500, 'text/plain; charset=utf-8', `${error.message}\n`))
    }
    return true
  }
}
