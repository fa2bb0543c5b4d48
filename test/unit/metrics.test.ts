// The metric families each error code lands in, and how request ends are classed.
import t from 'tap'
import { ERRORS, type GatewayErrorCode } from '../../src/errors.js'
import { GatewayMetrics } from '../../src/observability/metrics.js'

t.test('every catalogue error lands in its family with a short reason, or only in the request counts', async (t) => {
  const metrics = new GatewayMetrics()
  for (const code of Object.keys(ERRORS) as GatewayErrorCode[]) metrics.failure(code)
  const text = await metrics.text()
  const failures = text.split('\n').filter((line) => /^jarm_gateway_(capture_failures|sealed_state_failures|upstream_errors)_total\{/.test(line))
  t.same(failures.sort(), [
    'jarm_gateway_capture_failures_total{reason="failed"} 1',
    'jarm_gateway_capture_failures_total{reason="too_large"} 1',
    'jarm_gateway_sealed_state_failures_total{reason="expired"} 1',
    'jarm_gateway_sealed_state_failures_total{reason="invalid"} 1',
    'jarm_gateway_sealed_state_failures_total{reason="wrong_issuer"} 1',
    'jarm_gateway_upstream_errors_total{reason="bad_response"} 1',
    'jarm_gateway_upstream_errors_total{reason="timeout"} 1',
    'jarm_gateway_upstream_errors_total{reason="tls_failed"} 1',
    'jarm_gateway_upstream_errors_total{reason="unreachable"} 1',
  ])
})

t.test('a request the client left before its end is counted as aborted; in-flight goes back to zero', async (t) => {
  const metrics = new GatewayMetrics()
  metrics.requestStarted()
  metrics.requestStarted()
  metrics.requestEnded(200, false)
  metrics.requestEnded(504, true)
  const text = await metrics.text()
  t.match(text, /jarm_gateway_requests_total\{status_class="aborted"\} 1/)
  t.match(text, /jarm_gateway_requests_total\{status_class="5xx"\} 1/)
  t.match(text, /jarm_gateway_requests_in_flight 0/)
  metrics.requestStarted()
  metrics.requestEnded(204, true)
  const again = await metrics.text()
  t.match(again, /jarm_gateway_requests_total\{status_class="5xx"\} 1\n/, 'a second scrape counts nothing twice')
  t.match(again, /jarm_gateway_requests_total\{status_class="2xx"\} 1\n/)
  metrics.requestStarted()
  t.match(await metrics.text(), /jarm_gateway_requests_in_flight 1\n/)
  t.equal(metrics.contentType.split(';')[0], 'text/plain')
})

t.test('two gateways in one process keep separate registries', async (t) => {
  const a = new GatewayMetrics()
  const b = new GatewayMetrics()
  a.jarmResponse('query.jwt', 'ES256', 'success', 'https://id.example.com/realms/{tenant}')
  t.match(await a.text(), /jarm_gateway_jarm_responses_total\{mode="query.jwt",alg="ES256",outcome="success",issuer="https:\/\/id.example.com\/realms\/\{tenant\}"\} 1/)
  t.notMatch(await b.text(), /jarm_gateway_jarm_responses_total\{/)
})

t.test('JARM responses are counted per label set, each as often as it happened', async (t) => {
  const metrics = new GatewayMetrics()
  metrics.jarmResponse('query.jwt', 'ES256', 'success', 'https://a.example')
  metrics.jarmResponse('query.jwt', 'ES256', 'success', 'https://a.example')
  metrics.jarmResponse('form_post.jwt', 'ES256', 'error', 'https://a.example')
  const text = await metrics.text()
  t.match(text, /jarm_gateway_jarm_responses_total\{mode="query.jwt",alg="ES256",outcome="success",issuer="https:\/\/a.example"\} 2\n/)
  t.match(text, /jarm_gateway_jarm_responses_total\{mode="form_post.jwt",alg="ES256",outcome="error",issuer="https:\/\/a.example"\} 1\n/)
  t.match(await metrics.text(), /outcome="success",issuer="https:\/\/a.example"\} 2\n/, 'a second scrape reads the same totals')
})
