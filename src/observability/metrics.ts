/**
 * Prometheus metrics (prom-client), each gateway with its own registry so several gateways in one
 * process (tests, the demo) never share or clash. The only module that imports prom-client.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { GatewayErrorCode } from '../errors.js'

/** Upstream time to response headers, in seconds: a login page takes milliseconds, a slow server seconds. */
export const UPSTREAM_LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #captureFailures = new Counter({ name: 'jarm_gateway_capture_failures_total', help: "Answers of the legacy server to a JARM flow that could not be captured, by reason", labelNames: ['reason'], registers: [this.registry] })
  readonly #sealedStateFailures = new Counter({ name: 'jarm_gateway_sealed_state_failures_total', help: 'Sealed flow states that did not open, by reason (invalid: tampered or unknown secret; expired)', labelNames: ['reason'], registers: [this.registry] })
  readonly #upstreamErrors = new Counter({ name: 'jarm_gateway_upstream_errors_total', help: 'Requests to the legacy server that failed, by reason (unreachable, timeout, bad_response, tls_failed)', labelNames: ['reason'], registers: [this.registry] })
  readonly #upstreamLatency = new Histogram({ name: 'jarm_gateway_upstream_duration_seconds', help: 'Time from forwarding a request to the legacy server to its response headers', buckets: UPSTREAM_LATENCY_BUCKETS_S, registers: [this.registry] })
  /**
   * Every request moves these two, so they are plain numbers on the request path and reach
   * prom-client only when scraped (its label handling costs microseconds per call).
   */
  #inFlightCount = 0
  readonly #endedByClass = new Map<string, number>()
  /**
   * JARM responses by their labels, the same way: prom-client hashes a label object on every
   * `inc` (sorting its keys), a few µs of every JARM response. Bounded by the configuration: modes,
   * algorithms, two outcomes and the configured issuers.
   */
  readonly #jarmByLabels = new Map<string, { readonly labels: Record<'mode' | 'alg' | 'outcome' | 'issuer', string>, count: number }>()

  constructor () {
    collectDefaultMetrics({ register: this.registry, prefix: 'jarm_gateway_' })
    const metrics = this
    // Registered with the registry, which is all that reads them.
    new Gauge({
      name: 'jarm_gateway_requests_in_flight', help: 'Requests being handled', registers: [this.registry],
      collect () { this.set(metrics.#inFlightCount) },
    })
    new Counter({
      name: 'jarm_gateway_jarm_responses_total', help: 'JARM responses delivered, by issuer (a tenant template counts as one), response mode, signing algorithm and outcome (success, or the OAuth error carried)', labelNames: ['mode', 'alg', 'outcome', 'issuer'], registers: [this.registry],
      collect () {
        this.reset()
        for (const { labels, count } of metrics.#jarmByLabels.values()) this.inc(labels, count)
      },
    })
    new Counter({
      name: 'jarm_gateway_requests_total', help: 'Requests handled, by status class (2xx, 3xx, 4xx, 5xx, or aborted when the client left first)', labelNames: ['status_class'], registers: [this.registry],
      collect () {
        this.reset()
        for (const [statusClass, count] of metrics.#endedByClass) this.inc({ status_class: statusClass }, count)
      },
    })
  }

  requestStarted (): void {
    this.#inFlightCount++
  }

  requestEnded (status: number, completed: boolean): void {
    this.#inFlightCount--
    const statusClass = completed ? `${Math.floor(status / 100)}xx` : 'aborted'
    this.#endedByClass.set(statusClass, (this.#endedByClass.get(statusClass) ?? 0) + 1)
  }

  /** `issuer` is a bounded label: a listed issuer, or a template for all its tenants. */
  jarmResponse (mode: string, alg: string, outcome: string, issuer: string): void {
    const key = `${mode}\n${alg}\n${outcome}\n${issuer}`
    const known = this.#jarmByLabels.get(key)
    if (known !== undefined) known.count++
    else this.#jarmByLabels.set(key, { labels: { mode, alg, outcome, issuer }, count: 1 })
  }

  upstreamResponded (seconds: number): void {
    this.#upstreamLatency.observe(seconds)
  }

  /** Counts an error under the family it belongs to; other errors are only in the request counts. */
  failure (code: GatewayErrorCode): void {
    if (code.startsWith('capture_')) this.#captureFailures.inc({ reason: code.slice('capture_'.length) })
    else if (code.startsWith('flow_state_')) this.#sealedStateFailures.inc({ reason: code.slice('flow_state_'.length) })
    else if (code.startsWith('upstream_')) this.#upstreamErrors.inc({ reason: code.slice('upstream_'.length) })
  }

  get contentType (): string {
    return this.registry.contentType
  }

  text (): Promise<string> {
    return this.registry.metrics()
  }
}
