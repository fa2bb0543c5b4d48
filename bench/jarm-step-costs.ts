/**
 * `node dist/bench/jarm-step-costs.js [iterations] [rounds]`: what each step of a JARM response
 * costs, in this one process, beside its floor (one node:crypto signature with the same key type).
 * The steps are the gateway's own functions, called as the pipeline calls them for a `query.jwt`
 * request answered at once (the bench's instant upstream): the flow sealed into the request,
 * the legacy server's Location captured and the flow opened, the claims, the JWT, the 303, the log
 * line and the metrics; for form_post.jwt the legacy page read and the client's page written. Rounds alternate the steps (a, b, c, a, b, c, ...) and each figure is the
 * median; the HTTP work (sockets, parsing, the proxy) is not in here, only in `npm run bench`.
 */
import { randomBytes, sign, createPrivateKey, type KeyObject } from 'node:crypto'
import { Writable } from 'node:stream'
import { parseParameters, encodeParameters } from '../src/authorization-request/parameters.js'
import { planAuthorizationRequest } from '../src/authorization-request/plan-authorization-request.js'
import { captureFormPost } from '../src/capture/form-post-capture.js'
import { captureRedirect } from '../src/capture/redirect-capture.js'
import { buildConfig } from '../src/config/load-config.js'
import { FlowStateSealer, type Flow } from '../src/flow-state/sealed-state.js'
import { IssuerRegistry } from '../src/issuers/issuer-registry.js'
import { generatePrivateJwk } from '../src/keys/signing-keys.js'
import { createLogger } from '../src/observability/logger.js'
import { GatewayMetrics } from '../src/observability/metrics.js'
import { deliver } from '../src/respond/response-delivery.js'
import { CLIENT_STATE, FAKE_REDIRECT_URI } from './lib/fixtures.js'
import { median, formatTable } from './lib/stats.js'

const iterations = Number(process.argv[2] ?? 20_000)
const rounds = Number(process.argv[3] ?? 5)

const ISSUER = 'http://127.0.0.1:8080'
const CODE = 'bench-code-0123456789abcdefghijklmnopqrstuvwxyz'

const [es, ed] = await Promise.all([generatePrivateJwk('ES256'), generatePrivateJwk('EdDSA')])
const config = await buildConfig({
  upstream: { url: 'http://127.0.0.1:1' },
  keys: { keys: [es, ed] },
  clients: { es: { authorization_signed_response_alg: 'ES256' }, ed: { authorization_signed_response_alg: 'EdDSA' } },
  default_signed_response_alg: 'ES256',
  state: { secrets: [randomBytes(32).toString('base64url')] },
}, process.cwd())
const registry = new IssuerRegistry(config, { onRefreshError: () => undefined, now: Date.now })
const issuer = registry.listed[0]!
const sealer = new FlowStateSealer(config.state.secrets, config.state.ttlSeconds)
/** A logger writing as production does (JSON lines), into a stream that drops them. */
const logger = createLogger({ destination: new Writable({ write (_chunk, _encoding, done) { done() } }) })
const metrics = new GatewayMetrics()

function requestQuery (clientId: string): string {
  return new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: FAKE_REDIRECT_URI, state: CLIENT_STATE, response_mode: 'query.jwt' }).toString()
}

/** What the JARM step does for one client, split into the pieces timed below. */
function stepsFor (clientId: string, keyObject: KeyObject, alg: 'ES256' | 'EdDSA'): Array<[string, () => unknown]> {
  const query = requestQuery(clientId)
  const plan = planAuthorizationRequest(parseParameters(query), issuer.policy, sealer)
  if (plan.kind !== 'jarm') throw new Error('the bench request is not a JARM request')
  const location = `${FAKE_REDIRECT_URI}?code=${CODE}&state=${encodeURIComponent(plan.sealedState)}`
  const open = (sealed: string): Flow => sealer.open(sealed)
  const capture = { publicOrigins: new Set([ISSUER]), onFlowPath: true, extraResponseParameters: new Set<string>() }
  const captured = captureRedirect(location, `${ISSUER}/authorize?x`, open, capture)
  if (captured.kind !== 'capture') throw new Error('the bench Location is not captured')
  const jwt = issuer.tokens.create({ issuer: ISSUER, clientId, state: CLIENT_STATE, parameters: captured.parameters })
  const signingInput = Buffer.from(jwt.slice(0, jwt.lastIndexOf('.')))
  const signOnce = alg === 'ES256'
    ? (): Buffer => sign('sha256', signingInput, { key: keyObject, dsaEncoding: 'ieee-p1363' })
    : (): Buffer => sign(null, signingInput, keyObject)
  return [
    [`floor: node:crypto sign, ${alg}`, signOnce],
    ['read the request (parse the query)', () => parseParameters(query)],
    ['plan: checks and the flow sealed into state (AES-256-GCM)', () => planAuthorizationRequest(parseParameters(query), issuer.policy, sealer)],
    ['  of which: seal', () => sealer.seal(plan.flow)],
    ['rewrite: the query sent on', () => encodeParameters(plan.parameters)],
    ['capture: the Location read, the flow opened, the parameters checked', () => captureRedirect(location, `${ISSUER}/authorize?x`, open, capture)],
    ['  of which: open', () => sealer.open(plan.sealedState)],
    [`claims, JSON, base64url and the signature (${alg})`, () => issuer.tokens.create({ issuer: ISSUER, clientId, state: CLIENT_STATE, parameters: captured.parameters })],
    ['the 303 (Location built)', () => deliver('query.jwt', FAKE_REDIRECT_URI, jwt)],
    ['the log line (pino, JSON)', () => logger.info({ event: 'jarm.response', requestId: 'c0a8e1f2-5b7d-4c1e-9a3f-0d2b4e6f8a1c', method: 'GET', path: '/authorize', status: 303, completed: true, ms: 1.234, issuer: ISSUER, clientId, mode: 'query.jwt', upstreamMode: 'query', alg, outcome: 'success' })],
    ['metrics (the JARM response counter)', () => metrics.jarmResponse('query.jwt', alg, 'success', ISSUER)],
  ]
}

function privateKeyOf (jwk: Record<string, unknown>): KeyObject {
  return createPrivateKey({ key: jwk as never, format: 'jwk' })
}

/** form_post.jwt: the legacy server's form_post page read for the flow, and the page written for the client. */
function formPostSteps (): Array<[string, () => unknown]> {
  const plan = planAuthorizationRequest(parseParameters(requestQuery('es').replace('query.jwt', 'form_post.jwt')), issuer.policy, sealer)
  if (plan.kind !== 'jarm') throw new Error('the bench request is not a JARM request')
  const page = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Submitting Callback</title><script>document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script></head><body><form method="post" action="${FAKE_REDIRECT_URI}"><input type="hidden" name="code" value="${CODE}"/><input type="hidden" name="state" value="${plan.sealedState}"/><noscript>Your browser does not support JavaScript or you've disabled it.<br/><button autofocus type="submit">Continue</button></noscript></form></body></html>`
  const capture = { publicOrigins: new Set([ISSUER]), onFlowPath: true, extraResponseParameters: new Set<string>() }
  const open = (sealed: string): Flow => sealer.open(sealed)
  if (captureFormPost(page, `${ISSUER}/authorize?x`, open, capture).kind !== 'capture') throw new Error('the bench page is not captured')
  const jwt = issuer.tokens.create({ issuer: ISSUER, clientId: 'es', state: CLIENT_STATE, parameters: [['code', CODE]] })
  return [
    ['form_post: the legacy page parsed and its form read (node-html-parser; opens the flow)', () => captureFormPost(page, `${ISSUER}/authorize?x`, open, capture)],
    ['form_post: the page for the client written', () => deliver('form_post.jwt', FAKE_REDIRECT_URI, jwt)],
  ]
}

const cases = [...stepsFor('es', privateKeyOf(es), 'ES256'), ...stepsFor('ed', privateKeyOf(ed), 'EdDSA').filter(([name]) => name.includes('EdDSA')), ...formPostSteps()]
const times = new Map<string, number[]>(cases.map(([name]) => [name, []]))
let sink: unknown
for (let round = 0; round <= rounds; round++) {
  for (const [name, step] of cases) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) sink = step()
    const us = Number(process.hrtime.bigint() - started) / 1000 / iterations
    // Round 0 warms every step up (JIT, caches) and is not counted.
    if (round > 0) times.get(name)!.push(us)
  }
}
void sink
const rows = cases.map(([name]) => {
  const us = median(times.get(name)!)
  return [name, us.toFixed(1)]
})
process.stdout.write(`${formatTable(['step (one process, no HTTP)', 'µs per call'], rows)}\n`)
process.stdout.write(`(medians of ${rounds} rounds of ${iterations} calls each, Node ${process.version})\n`)
