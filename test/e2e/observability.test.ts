// Health, readiness and metrics on the main port and on an admin port, counted from real flows
// through the gateway in front of oidc-provider; and logs of full flows that hold no secret.
import t from 'tap'
import { Writable } from 'node:stream'
import { decodeJwt } from 'jose'
import { Gauge } from 'prom-client'
import { buildConfig } from '../../src/config/load-config.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { createLogger } from '../../src/observability/logger.js'
import { startGateway } from '../../src/server.js'
import { startLegacyServer } from '../../demo/legacy-server.js'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { APP1, authorizationRequest, discover, judge } from '../helpers/judge.js'
import { startStack, STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'

const APP2_SECRET = 'app2-secret-that-is-long-enough-for-hs256-0123456789'
const stack = await startStack({ config: { clients: { app1: { authorization_signed_response_alg: 'ES256' }, app2: { authorization_signed_response_alg: 'HS256', client_secret: APP2_SECRET } } } })
t.teardown(() => stack.close())
const as = await discover(stack.issuer)


/** One sample of a metric in Prometheus text format, or undefined. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('liveness and readiness answer on the main port without reaching the legacy server or the request log', async (t) => {
  const before = stack.logs.length
  const health = await fetch(`${stack.gatewayUrl}/healthz`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })
  t.equal(health.headers.get('cache-control'), 'no-store')
  const ready = await fetch(`${stack.gatewayUrl}/readyz?verbose=1`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ready', checks: { draining: 'ok', config: 'ok', keys: 'ok (3)', metadata: 'ok', upstream: 'ok' } })
  const head = await fetch(`${stack.gatewayUrl}/healthz`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(await head.text(), '')
  t.notOk(stack.logs.slice(before).some((line) => line['event'] === 'request'), 'probes are not request log lines')
  t.ok(stack.logs.some((line) => line['event'] === 'readiness' && line['ready'] === true), 'the first readiness is logged')
  const posted = await fetch(`${stack.gatewayUrl}/healthz`, { method: 'POST' })
  t.equal(posted.status, 404, 'another method goes to the legacy server')
  await posted.arrayBuffer()
})

t.test('metrics count JARM responses by mode, algorithm and outcome, upstream latency, and sealed-state failures', async (t) => {
  for (const mode of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const) {
    const request = await authorizationRequest(as, { response_mode: mode })
    await judge(as, APP1, callbackParameters(await new BrowserAgent().run(request.url)), request.state!)
  }
  const denied = await authorizationRequest(as, { response_mode: 'query.jwt', client_id: 'app2', redirect_uri: 'https://app2.example.org/callback' })
  const deniedArrival = await new BrowserAgent().run(denied.url, { deny: true })
  t.equal(decodeJwt(callbackParameters(deniedArrival).get('response')!)['error'], 'access_denied')
  const sealed = new FlowStateSealer([STATE_SECRET], 600).seal({ mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://client.example.org/cb', responseType: 'code', state: 's' })
  const tampered = sealed.slice(0, 20) + (sealed[20] === 'A' ? 'B' : 'A') + sealed.slice(21)
  const replay = await authorizationRequest(as, { response_mode: 'query', state: tampered })
  t.equal((await new BrowserAgent().run(replay.url)).status, 400)

  const response = await fetch(`${stack.gatewayUrl}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await response.text()
  for (const mode of ['query.jwt', 'fragment.jwt', 'form_post.jwt']) {
    t.ok(sample(text, `jarm_gateway_jarm_responses_total{mode="${mode}",alg="ES256",outcome="success",issuer="${stack.issuer}"}`)! >= 1, `${mode} counted`)
  }
  t.ok(sample(text, `jarm_gateway_jarm_responses_total{mode="query.jwt",alg="ES256",outcome="success",issuer="${stack.issuer}"}`)! >= 2, 'jwt resolved to query.jwt is counted as query.jwt')
  t.equal(sample(text, `jarm_gateway_jarm_responses_total{mode="query.jwt",alg="HS256",outcome="error",issuer="${stack.issuer}"}`), 1)
  t.equal(sample(text, 'jarm_gateway_sealed_state_failures_total{reason="invalid"}'), 1)
  t.ok(sample(text, 'jarm_gateway_upstream_duration_seconds_count')! > 10, 'every proxied request is timed')
  t.ok(sample(text, 'jarm_gateway_requests_total{status_class="3xx"}')! > 5)
  t.equal(sample(text, 'jarm_gateway_requests_in_flight'), 0)
  t.match(text, /# TYPE jarm_gateway_upstream_duration_seconds histogram/)
  t.match(text, /jarm_gateway_process_cpu_seconds_total/, 'process metrics')
})

t.test('a collector that throws fails the scrape, not the process', async (t) => {
  const gateway = stack.gateways[0]!.gateway
  new Gauge({ name: 'test_broken', help: 'throws', registers: [gateway.metrics.registry], collect () { throw new Error('collector failed') } })
  t.teardown(() => gateway.metrics.registry.removeSingleMetric('test_broken'))
  const response = await fetch(`${stack.gatewayUrl}/metrics`)
  t.equal(response.status, 500)
  t.equal(await response.text(), 'collector failed\n')
})

t.test('the logs of full flows hold no code, token, state, response, cookie, secret or authorization header', async (t) => {
  const secrets: string[] = [STATE_SECRET, APP2_SECRET, 'Bearer-credential-9b1f2c', 'cookie-value-4e7a1d', ...TEST_KEYS.keys.map((k) => (k as { d: string }).d)]
  for (const mode of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const) {
    for (const client of [{}, { client_id: 'app2', redirect_uri: 'https://app2.example.org/callback' }]) {
      const request = await authorizationRequest(as, { response_mode: mode, ...client })
      const agent = new BrowserAgent()
      const arrival = await agent.run(request.url)
      const jwt = callbackParameters(arrival).get('response')!
      const claims = decodeJwt(jwt)
      secrets.push(request.state!, request.nonce, request.verifier, jwt, jwt.split('.')[2]!, claims['code'] as string)
      // A client that sends credentials and cookies to the gateway (they go to the legacy server).
      const other = await agent.request(new URL('/me', stack.gatewayUrl), { headers: { authorization: 'Bearer Bearer-credential-9b1f2c', cookie: 'sid=cookie-value-4e7a1d' } })
      await other.arrayBuffer()
    }
  }
  const text = stack.rawLogs.join('')
  t.ok(stack.logs.filter((line) => line['event'] === 'request').length > 30, 'one line per request')
  t.ok(stack.logs.every((line) => typeof line['requestId'] === 'string' || line['event'] !== 'request'), 'every request line has its id')
  for (const secret of secrets) {
    t.ok(secret.length >= 8, 'a value worth looking for')
    if (text.includes(secret)) t.fail(`a secret of ${secret.length} characters is in the log`)
  }
  t.notMatch(text, /[?&](code|state|response)=/, 'no query string')
  t.notMatch(text, /eyJ[\w-]+\.eyJ/, 'no JWT')
})

t.test('the redaction list catches sensitive fields that slip into a log call, and keeps the error code', async (t) => {
  const lines: string[] = []
  const logger = createLogger({ destination: new Writable({ write (chunk: Buffer, _e, done) { lines.push(chunk.toString()); done() } }) })
  logger.info({ event: 'x', code: 'flow_state_invalid', state: 's3cr3t-state', response: 'eyJ.x.y', client_secret: 'cs', headers: { authorization: 'Bearer t0ken', cookie: 'a=b', 'set-cookie': ['c=d'] }, parameters: { code: 'auth-c0de', id_token: 'idt', access_token: 'at' }, cause: { password: 'pw' } })
  const line = JSON.parse(lines[0]!) as Record<string, unknown>
  t.equal(line['code'], 'flow_state_invalid')
  t.same(line, {
    ...line,
    state: '[redacted]', response: '[redacted]', client_secret: '[redacted]',
    headers: { authorization: '[redacted]', cookie: '[redacted]', 'set-cookie': '[redacted]' },
    parameters: { code: '[redacted]', id_token: '[redacted]', access_token: '[redacted]' },
    cause: { password: '[redacted]' },
  })
})

t.test('an admin port carries the endpoints alone; the main port passes those paths on; readiness follows the legacy server', async (t) => {
  const legacy = await startLegacyServer({ issuer: 'http://127.0.0.1:1/' })
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ destination: new Writable({ write (chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } }) })
  const config = await buildConfig({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { url: legacy.url },
    keys: TEST_KEYS,
    observability: { admin_port: 0, health_path: '/alive', ready_path: '/ready', metrics_path: '/prom', ready_timeout_ms: 500 },
  }, process.cwd())
  const running = await startGateway(config, logger)
  t.teardown(() => running.close())
  const admin = running.adminUrl!
  t.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.not(admin, running.url)
  t.equal((await fetch(`${admin}/alive`)).status, 200)
  t.equal((await fetch(`${admin}/ready`)).status, 200)
  t.match(await (await fetch(`${admin}/prom`)).text(), /jarm_gateway_requests_in_flight 0/)
  t.equal((await fetch(`${admin}/healthz`)).status, 404, 'the default paths are not served when others are configured')
  t.equal((await fetch(`${admin}/.well-known/openid-configuration`)).status, 404, 'the admin port proxies nothing')
  const onMain = await fetch(`${running.url}/alive`)
  t.equal(onMain.status, 404, 'the main port sends /alive to the legacy server')
  t.equal(onMain.headers.get('x-request-id')?.length, 36, 'through the gateway pipeline')
  t.equal((await fetch(`${running.url}/.well-known/openid-configuration`)).status, 200)
  t.ok(lines.some((line) => line['event'] === 'listening' && line['adminUrl'] === admin))
  t.ok(lines.some((line) => line['event'] === 'config.warning' && /state\.secrets/.test(line['msg'] as string)), 'start-up warnings are logged')

  await legacy.close()
  const down = await fetch(`${admin}/ready`)
  t.equal(down.status, 503, 'the legacy server is gone: not ready')
  t.same((await down.json() as { checks: unknown }).checks, { draining: 'ok', config: 'ok', keys: 'ok (3)', metadata: 'ok', upstream: 'unreachable' }, 'discovery is still cached; the upstream check fails')
  t.ok(lines.some((line) => line['event'] === 'readiness' && line['ready'] === false), 'the change is logged')
  t.equal((await fetch(`${admin}/alive`)).status, 200, 'still alive')
  const proxied = await fetch(`${running.url}/anything`)
  t.equal(proxied.status, 502)
  await proxied.arrayBuffer()
  t.match(await (await fetch(`${admin}/prom`)).text(), /jarm_gateway_upstream_errors_total\{reason="unreachable"\} 1/)
})

t.test('readiness: metadata that cannot be read in time, a silent upstream, and a stop in progress', async (t) => {
  // A legacy server that accepts connections and never answers: discovery times out, so does the probe.
  const { createServer } = await import('node:http')
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.closeAllConnections(); silent.close() })
  const config = await buildConfig({
    listen: { host: '127.0.0.1', port: 0, drain_timeout_ms: 1000 },
    upstream: { url: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, timeout_ms: 300 },
    keys: TEST_KEYS,
    state: { secrets: [STATE_SECRET] },
    observability: { ready_timeout_ms: 200 },
  }, process.cwd())
  const running = await startGateway(config, createLogger({ level: 'silent' }))
  const report = await running.admin.readiness()
  t.same(report, { ready: false, checks: { draining: 'ok', config: 'ok', keys: 'ok (3)', metadata: 'unavailable', upstream: 'timeout' } })
  const closing = running.close()
  const draining = await running.admin.readiness()
  t.equal(draining.checks['draining'], 'draining')
  t.equal(await closing, true, 'nothing was in flight: drained')
})
