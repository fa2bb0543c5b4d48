/**
 * `npm run bench`: is the gateway fast? Everything on loopback, every server in its own process,
 * the load generator (autocannon, and a lean browser for section 3) in this one. It stops by itself
 * and prints Markdown tables (the ones in BENCHMARKS.md).
 *
 *   1. Passthrough:  (a) straight to an instant upstream, (b) a bare http-proxy with a keep-alive
 *      agent, (c) the gateway. rps, p50/p99, c/b. Then HTTPS on the listening side: (b-tls) a bare
 *      http-proxy serving HTTPS, (c-tls) the gateway with listen.tls, the same certificate (made by
 *      openssl, test/helpers/test-pki.ts); c-tls/b-tls.
 *   2. JARM path: an instant upstream answering the authorization request at once. (d) a plain
 *      authorization request through the gateway, (e) query.jwt per signing algorithm,
 *      (f) form_post.jwt captured from a form_post page, (g) with encryption, (h) query.jwt asked
 *      for in a signed request object (ES256, a fresh one per request, verified by the gateway).
 *      The gateway's CPU per response, and its extra CPU over d against the floor: one node:crypto
 *      signature with the same key type, measured in this process in every round.
 *   3. Complete browser flows (login and consent) through the gateway in front of oidc-provider
 *      with JARM off, against oidc-provider with its own JARM on. Flows/s and the ratio, and where
 *      the CPU of a flow goes: each process's CPU per flow and the connections each server accepted.
 *   4. Memory of the gateway process: RSS at start, after sections 1-2, peak, and across a soak of
 *      JARM responses.
 *
 * Runs alternate (a, b, c, a, b, c, ...) and every figure is the median of the rounds; ratios are
 * taken within a round (side by side, same moment of a shared machine), then their median.
 *
 * Options: --smoke (seconds long: keeps the script working in CI, asserts nothing about speed;
 * also BENCH_SMOKE=1), --rounds N, --duration S, --connections N, --soak N, --flow-seconds S,
 * --only 1,2 (some sections: 1 passthrough, 2 JARM path, 3 flows, 4 soak; 4 needs 2).
 */
import { randomBytes } from 'node:crypto'
import { get } from 'node:http'
import { get as httpsGet } from 'node:https'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { generatePrivateJwk } from '../src/keys/signing-keys.js'
import { BenchChild, type Usage } from './lib/child-ipc.js'
import { CLIENT_STATE, FAKE_REDIRECT_URI } from './lib/fixtures.js'
import { median, percentile, ratio, formatTable } from './lib/stats.js'
import { runFlow, runFlows, authorizationUrl } from './load/browser-flows.js'
import { createTestPki } from '../test/helpers/test-pki.js'
import { SIGNED_REQUEST_CLIENT_ID, signedRequestClient } from './load/signed-requests.js'
import { signatureFloor } from './lib/signature-floor.js'
import { clientEncryptionKey, encryptedClientConfig, ENCRYPTION_ALG, ENCRYPTION_ENC } from './load/encryption.js'

interface Settings {
  rounds: number
  /** seconds per autocannon run */
  duration: number
  warmup: number
  connections: number
  soak: number
  flowRounds: number
  flowSeconds: number
  flowConcurrency: number
  /** the whole run is stopped after this many seconds, whatever happens */
  limitSeconds: number
}

const FULL: Settings = { rounds: 5, duration: 2, warmup: 1, connections: 10, soak: 100_000, flowRounds: 5, flowSeconds: 4, flowConcurrency: 4, limitSeconds: 900 }
const SMOKE: Settings = { rounds: 1, duration: 0.25, warmup: 0, connections: 2, soak: 200, flowRounds: 1, flowSeconds: 0.5, flowConcurrency: 1, limitSeconds: 240 }

function settingsFrom (argv: string[]): Settings & { smoke: boolean, sections: Set<string> } {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      soak: { type: 'string' },
      'flow-seconds': { type: 'string' },
      only: { type: 'string' },
    },
  })
  const smoke = values.smoke === true || process.env['BENCH_SMOKE'] === '1'
  const base = smoke ? SMOKE : FULL
  const number = (value: string | undefined, fallback: number): number => value === undefined ? fallback : Number(value)
  return {
    ...base,
    smoke,
    rounds: number(values.rounds, base.rounds),
    flowRounds: number(values.rounds, base.flowRounds),
    duration: number(values.duration, base.duration),
    connections: number(values.connections, base.connections),
    soak: number(values.soak, base.soak),
    flowSeconds: number(values['flow-seconds'], base.flowSeconds),
    sections: new Set((values.only ?? '1,2,3,4').split(',').map((v) => v.trim())),
  }
}

const settings = settingsFrom(process.argv.slice(2))
const children: BenchChild[] = []
const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`) }

async function startChild (name: string, options: Parameters<typeof BenchChild.start>[1] = {}): Promise<BenchChild> {
  const child = await BenchChild.start(name, options)
  children.push(child)
  return child
}

async function stopAll (): Promise<void> {
  await Promise.all(children.map((child) => child.stop()))
}

// ---------------------------------------------------------------------------------------------
// one load run

interface LoadResult {
  readonly rps: number
  /** latencies in milliseconds, from autocannon's own per-response timings (sub-millisecond) */
  readonly p50: number
  readonly p99: number
  readonly responses: number
  /** connection errors plus answers with another status than expected */
  readonly failures: number
  /** the gateway's CPU (user + system) per response, microseconds */
  readonly cpuUs: number | undefined
}

interface Case {
  readonly key: string
  readonly label: string
  readonly url: string
  readonly status: number
  /** the proxy (bare or gateway) whose CPU is charged per response */
  readonly gateway?: BenchChild | undefined
  /** A new path for each request (from the load generator), in place of url's. */
  readonly freshPath?: () => string
  /** Checks one answer before any load: returns a problem, or undefined. */
  readonly check?: (answer: { status: number, headers: Record<string, string | string[] | undefined>, body: string }) => string | undefined
}

function cpuOf (usage: Pick<Usage, 'user' | 'system'>): number {
  return usage.user + usage.system
}

async function load (target: Case, run: { duration?: number, amount?: number }): Promise<LoadResult> {
  const before = target.gateway === undefined ? undefined : await target.gateway.usage()
  const times: number[] = []
  let unexpected = 0
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: target.url,
      connections: settings.connections,
      pipelining: 1,
      timeout: 10,
      ...(target.freshPath === undefined ? {} : { requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, path: target.freshPath!() }) }] }),
      ...(run.amount !== undefined ? { amount: run.amount } : { duration: run.duration ?? settings.duration }),
    }, (error: unknown, done: autocannon.Result) => { if (error !== null && error !== undefined) reject(error as Error); else resolve(done) })
    // autocannon emits (client, statusCode, bytes, milliseconds as a float); its own histogram
    // rounds to whole milliseconds and keeps only 2xx, too coarse for a 1 ms budget.
    ;(instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
      times.push(ms)
      if (statusCode !== target.status) unexpected++
    })
  })
  const after = target.gateway === undefined ? undefined : await target.gateway.usage()
  times.sort((x, y) => x - y)
  const responses = times.length
  return {
    rps: responses / result.duration,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    responses,
    failures: result.errors + unexpected,
    cpuUs: before === undefined || after === undefined || responses === 0 ? undefined : (cpuOf(after) - cpuOf(before)) / responses,
  }
}

/** The CA of the HTTPS cases' certificate, trusted by the answer checks (autocannon verifies nothing). */
let benchCa = ''

function fetchOnce (url: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  return new Promise((resolve, reject) => {
    const options = url.startsWith('https:') ? { ca: benchCa } : {}
    ;(url.startsWith('https:') ? httpsGet : get)(url, options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** Every case answers as it should before it is timed: a fast wrong answer proves nothing. */
async function verify (target: Case): Promise<void> {
  const answer = await fetchOnce(target.freshPath === undefined ? target.url : new URL(target.freshPath(), target.url).href)
  const problem = answer.status !== target.status ? `status ${answer.status}, expected ${target.status}` : target.check?.(answer)
  if (problem !== undefined) throw new Error(`case ${target.key} (${target.label}) is not answering correctly: ${problem}`)
}

function jwsHeaderOf (jwt: string): { alg?: string, kid?: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: string, kid?: string }
}

/** (e): a 303 to the redirect_uri carrying only `response`, signed with `alg`. */
function jarmRedirectCheck (alg: string) {
  return (answer: { headers: Record<string, string | string[] | undefined> }): string | undefined => {
    const location = new URL(String(answer.headers['location']))
    const response = location.searchParams.get('response')
    if (response === null || [...location.searchParams.keys()].length !== 1) return `location carries ${[...location.searchParams.keys()].join(', ')}`
    const header = jwsHeaderOf(response)
    return header.alg === alg ? undefined : `signed with ${header.alg}, expected ${alg}`
  }
}

/** Runs every case once per round, in order, `rounds` times (a, b, c, a, b, c, ...); `eachRound` runs after each round. */
async function alternate (cases: readonly Case[], rounds: number, eachRound?: () => void): Promise<Map<string, LoadResult[]>> {
  const results = new Map<string, LoadResult[]>(cases.map((c) => [c.key, []]))
  if (settings.warmup > 0) for (const target of cases) await load(target, { duration: settings.warmup })
  for (let round = 0; round < rounds; round++) {
    for (const target of cases) results.get(target.key)!.push(await load(target, {}))
    eachRound?.()
    log(`round ${round + 1}/${rounds}: ${cases.map((c) => `${c.key} ${Math.round(results.get(c.key)![round]!.rps)}`).join(', ')} rps`)
  }
  return results
}

const med = (runs: readonly LoadResult[], pick: (run: LoadResult) => number | undefined): number => median(runs.map(pick).filter((v): v is number => v !== undefined))
/** The median over rounds of the ratio of CPU per response within each round. */
const cpuRatio = (numerator: readonly LoadResult[], denominator: readonly LoadResult[]): number => median(numerator.map((run, i) => ratio(run.cpuUs ?? NaN, denominator[i]!.cpuUs ?? NaN)))
/** The median over rounds of the ratio within each round. */
const roundRatio = (numerator: readonly LoadResult[], denominator: readonly LoadResult[]): number => median(numerator.map((run, i) => ratio(run.rps, denominator[i]!.rps)))

const rps = (value: number): string => String(Math.round(value))
const ms = (value: number): string => value.toFixed(2)
const x2 = (value: number): string => value.toFixed(2)
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)
const verdict = (ok: boolean): string => ok ? 'met' : 'NOT met'

// ---------------------------------------------------------------------------------------------

async function main (): Promise<void> {
  const startedAt = Date.now()
  const watchdog = setTimeout(() => {
    log(`time limit of ${settings.limitSeconds} s reached: stopping`)
    void stopAll().finally(() => process.exit(1))
  }, settings.limitSeconds * 1000)
  watchdog.unref()
  const out: string[] = []
  const print = (text: string): void => { out.push(text); process.stdout.write(`${text}\n`) }

  log(settings.smoke ? 'smoke mode: seconds long, the numbers mean nothing' : `${settings.rounds} rounds of ${settings.duration} s per case, ${settings.connections} connections`)
  const upstream = await startChild('fake-upstream')
  const pki = createTestPki()
  const ca = pki.authority('Bench CA')
  const served = ca.issue('localhost', { dns: ['localhost'], ip: ['127.0.0.1'] })
  benchCa = ca.cert
  // --expose-gc: heap figures after a full collection in section 4 (it changes nothing else).
  const [bare, gateway, formPostGateway, bareTls, gatewayTls] = await Promise.all([
    startChild('bare-proxy', { args: [upstream.url] }),
    startChild('gateway-process', { execArgv: ['--expose-gc'] }),
    startChild('gateway-process', { execArgv: ['--expose-gc'] }),
    startChild('bare-proxy', { args: [upstream.url, served.certFile, served.keyFile] }),
    startChild('gateway-process', { env: { BENCH_TLS_CERT_FILE: served.certFile, BENCH_TLS_KEY_FILE: served.keyFile } }),
  ])

  const [es, ed, ps, rs] = await Promise.all([generatePrivateJwk('ES256'), generatePrivateJwk('EdDSA'), generatePrivateJwk('PS256'), generatePrivateJwk('RS256')])
  const encryption = await clientEncryptionKey()
  const signedRequests = await signedRequestClient()
  const encClient = encryptedClientConfig(encryption.publicJwk)
  const gatewayConfig = (responseMode: string): Record<string, unknown> => ({
    upstream: { url: upstream.url, response_mode: responseMode },
    keys: { keys: [es, ed, ps, rs] },
    clients: {
      es: { authorization_signed_response_alg: 'ES256' },
      ed: { authorization_signed_response_alg: 'EdDSA' },
      ps: { authorization_signed_response_alg: 'PS256' },
      rs: { authorization_signed_response_alg: 'RS256' },
      hs: { authorization_signed_response_alg: 'HS256', client_secret: randomBytes(32).toString('base64url') },
      enc: encClient,
      [SIGNED_REQUEST_CLIENT_ID]: signedRequests.config,
    },
    default_signed_response_alg: 'ES256',
    state: { secrets: [randomBytes(32).toString('base64url')] },
  })
  const gatewayIssuer = String((await gateway.call('serve', { config: gatewayConfig('auto') }))['issuer'])
  await formPostGateway.call('serve', { config: gatewayConfig('form_post') })
  await gatewayTls.call('serve', { config: gatewayConfig('auto') })
  const memoryAtStart = await gateway.usage({ gc: true })

  // ---- 1. passthrough ----------------------------------------------------------------------
  const passthrough: Case[] = [
    { key: 'a', label: 'direct to the upstream', url: `${upstream.url}/small`, status: 200 },
    { key: 'b', label: 'bare http-proxy (keep-alive agent)', url: `${bare.url}/small`, status: 200, gateway: bare },
    { key: 'c', label: 'jarm-gateway', url: `${gateway.url}/small`, status: 200, gateway },
    { key: 'b-html', label: 'bare http-proxy, an HTML page', url: `${bare.url}/page`, status: 200, gateway: bare },
    { key: 'c-html', label: 'jarm-gateway, an HTML page (inspected for a form_post response)', url: `${gateway.url}/page`, status: 200, gateway },
    { key: 'b-tls', label: 'bare http-proxy serving HTTPS', url: `${bareTls.url}/small`, status: 200, gateway: bareTls },
    { key: 'c-tls', label: 'jarm-gateway serving HTTPS (listen.tls)', url: `${gatewayTls.url}/small`, status: 200, gateway: gatewayTls },
  ]
  const on = (section: string): boolean => settings.sections.has(section)
  let pass = new Map<string, LoadResult[]>()
  if (on('1')) {
    for (const target of passthrough) await verify(target)
    log('section 1: passthrough')
    pass = await alternate(passthrough, settings.rounds)
  }

  // ---- 2. the JARM path ----------------------------------------------------------------------
  const authorize = (base: string, clientId: string, mode?: string): string => {
    const query = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: FAKE_REDIRECT_URI, state: CLIENT_STATE })
    if (mode !== undefined) query.set('response_mode', mode)
    return `${base}/authorize?${query.toString()}`
  }
  const algs = [['ES256', 'es'], ['EdDSA', 'ed'], ['PS256', 'ps'], ['RS256', 'rs'], ['HS256', 'hs']] as const
  const jarm: Case[] = [
    {
      key: 'd', label: 'plain authorization request (no JWT mode)', url: authorize(gateway.url, 'es'), status: 303, gateway,
      check: (answer) => new URL(String(answer.headers['location'])).searchParams.get('state') === CLIENT_STATE ? undefined : 'state not echoed',
    },
    ...algs.map(([alg, clientId]): Case => ({ key: `e-${alg}`, label: `query.jwt, ${alg}`, url: authorize(gateway.url, clientId, 'query.jwt'), status: 303, gateway, check: jarmRedirectCheck(alg) })),
    {
      // (f) runs on its own gateway process (upstream.response_mode form_post): d is measured there
      // too, so that f/d compares one process with itself.
      key: 'd-f', label: 'plain authorization request, on the form_post gateway', url: authorize(formPostGateway.url, 'es'), status: 303, gateway: formPostGateway,
    },
    {
      key: 'f', label: 'form_post.jwt from a form_post page (ES256)', url: authorize(formPostGateway.url, 'es', 'form_post.jwt'), status: 200, gateway: formPostGateway,
      check: (answer) => {
        const jwt = /name="response" value="([^"]+)"/.exec(answer.body)?.[1]
        return jwt !== undefined && jwsHeaderOf(jwt).alg === 'ES256' ? undefined : 'no signed response in the page'
      },
    },
    {
      key: 'g', label: `query.jwt, ES256 + ${ENCRYPTION_ALG}/${ENCRYPTION_ENC}`, url: authorize(gateway.url, 'enc', 'query.jwt'), status: 303, gateway,
      // A compact JWE has five parts; its payload (the signed JWT) is checked by the test suite.
      check: (answer) => new URL(String(answer.headers['location'])).searchParams.get('response')?.split('.').length === 5 ? undefined : 'not an encrypted response',
    },
    {
      key: 'h', label: 'query.jwt in a signed request object (ES256, verified per request)', url: gateway.url, freshPath: () => signedRequests.path(gatewayIssuer), status: 303, gateway,
      check: jarmRedirectCheck('ES256'),
    },
  ]
  /** The floor of a JARM response, by algorithm: one signature in this process, µs of CPU, every round. */
  const floors = { ES256: [] as number[], EdDSA: [] as number[] }
  let jarmRuns = new Map<string, LoadResult[]>()
  if (on('2')) {
    for (const target of jarm) await verify(target)
    log('section 2: the JARM path')
    jarmRuns = await alternate(jarm, settings.rounds, () => {
      floors.ES256.push(signatureFloor('ES256', settings.smoke ? 50 : 2000))
      floors.EdDSA.push(signatureFloor('EdDSA', settings.smoke ? 50 : 2000))
    })
  }
  const memoryAfterLoad = await gateway.usage({ gc: true })

  // ---- 4. memory: soak ---------------------------------------------------------------------
  if (on('4')) log(`section 4: soak of ${settings.soak} JARM responses (query.jwt, ES256)`)
  const soakCase = jarm.find((c) => c.key === 'e-ES256')!
  const soakChunks: Array<{ responses: number, usage: Usage, failures: number }> = []
  const chunk = Math.ceil(settings.soak / 4)
  let soaked = 0
  while (on('4') && soaked < settings.soak) {
    const amount = Math.min(chunk, settings.soak - soaked)
    const run = await load(soakCase, { amount })
    soaked += amount
    soakChunks.push({ responses: soaked, usage: await gateway.usage({ gc: true }), failures: run.failures })
  }
  const memoryAfterSoak = soakChunks.at(-1)?.usage

  // ---- 3. complete flows against a native JARM server -----------------------------------
  /** A flow target and the servers its flows run through (their CPU and connections are read around each run). */
  type FlowTarget = { key: string, label: string, issuer: string, servers: Array<{ name: string, child: BenchChild }> }
  type FlowResult = { perSecond: number, failures: number, cpuPerFlow: Map<string, number>, connectionsPerFlow: Map<string, number> }
  let flowTargets: FlowTarget[] = []
  const flowRuns = new Map<string, FlowResult[]>()
  if (on('3')) {
    log('section 3: complete browser flows')
    const [flowGateway, legacy, native, proxiedNative] = await Promise.all([startChild('gateway-process'), startChild('oidc-server'), startChild('oidc-server'), startChild('oidc-server')])
    // What any proxy costs a flow, as the floor of the gateway's: native JARM behind a bare http-proxy.
    const flowProxy = await startChild('bare-proxy', { args: [proxiedNative.url] })
    const providerJwks = { keys: [await generatePrivateJwk('RS256'), await generatePrivateJwk('ES256')] }
    await legacy.call('start', { role: 'legacy', issuer: flowGateway.url, jwks: providerJwks })
    const nativeIssuer = String((await native.call('start', { role: 'native', jwks: providerJwks }))['issuer'])
    await proxiedNative.call('start', { role: 'native', issuer: flowProxy.url, jwks: providerJwks })
    await flowGateway.call('serve', {
      config: {
        upstream: { url: legacy.url },
        keys: { keys: [await generatePrivateJwk('ES256')] },
        clients: { app1: { authorization_signed_response_alg: 'ES256' } },
        default_signed_response_alg: 'ES256',
        state: { secrets: [randomBytes(32).toString('base64url')] },
      },
    })
    flowTargets = [
      { key: 'gateway', label: 'jarm-gateway in front of oidc-provider (JARM off)', issuer: flowGateway.url, servers: [{ name: 'gateway', child: flowGateway }, { name: 'oidc-provider', child: legacy }] },
      { key: 'native', label: 'oidc-provider with its own JARM (jwtResponseModes)', issuer: nativeIssuer, servers: [{ name: 'oidc-provider', child: native }] },
      { key: 'proxied', label: 'oidc-provider with its own JARM behind a bare http-proxy (keep-alive agent)', issuer: flowProxy.url, servers: [{ name: 'bare proxy', child: flowProxy }, { name: 'oidc-provider', child: proxiedNative }] },
    ]
    for (const target of flowTargets) {
      const { Agent } = await import('node:http')
      const agent = new Agent({ keepAlive: true })
      const callback = await runFlow(agent, target.issuer)
      agent.destroy()
      const alg = jwsHeaderOf(callback.searchParams.get('response')!).alg
      if (alg !== 'ES256') throw new Error(`${target.key}: the flow's response is signed with ${alg}, expected ES256 (${authorizationUrl(target.issuer).pathname})`)
    }
    if (settings.warmup > 0) for (const target of flowTargets) await runFlows(target.issuer, settings.flowConcurrency, Math.min(1, settings.flowSeconds))
    for (const target of flowTargets) flowRuns.set(target.key, [])
    for (let round = 0; round < settings.flowRounds; round++) {
      for (const target of flowTargets) {
        const accepted = (child: BenchChild): Promise<number> => child.call<{ accepted: number }>('connections').then((reply) => reply.accepted)
        const before = await Promise.all(target.servers.map(async ({ child }) => ({ usage: await child.usage(), accepted: await accepted(child) })))
        const driverBefore = process.cpuUsage()
        const run = await runFlows(target.issuer, settings.flowConcurrency, settings.flowSeconds)
        const driver = process.cpuUsage(driverBefore)
        const after = await Promise.all(target.servers.map(async ({ child }) => ({ usage: await child.usage(), accepted: await accepted(child) })))
        if (run.firstError !== undefined) log(`${target.key}: ${run.failures} failed flows, first: ${run.firstError}`)
        const flows = Math.max(1, run.flows)
        const cpuPerFlow = new Map(target.servers.map(({ name }, i) => [name, (cpuOf(after[i]!.usage) - cpuOf(before[i]!.usage)) / flows]))
        cpuPerFlow.set('load generator', cpuOf(driver) / flows)
        const connectionsPerFlow = new Map(target.servers.map(({ name }, i) => [name, (after[i]!.accepted - before[i]!.accepted) / flows]))
        flowRuns.get(target.key)!.push({ perSecond: run.flows / run.seconds, failures: run.failures, cpuPerFlow, connectionsPerFlow })
      }
      log(`flows round ${round + 1}/${settings.flowRounds}: ${flowTargets.map((t) => `${t.key} ${flowRuns.get(t.key)![round]!.perSecond.toFixed(1)}`).join(', ')} flows/s`)
    }
  }

  await stopAll()
  pki.remove()
  clearTimeout(watchdog)

  // ---- the report ----------------------------------------------------------------------------
  print(`## Results${settings.smoke ? ' (SMOKE RUN: too short to mean anything)' : ''}`)
  print('')
  print(`${settings.rounds} alternating rounds, ${settings.duration} s per run, ${settings.connections} connections (autocannon), medians over rounds; ratios are per round, then the median. Total ${Math.round((Date.now() - startedAt) / 1000)} s.`)
  print('')
  if (on('1')) {
    print('### 1. Passthrough (a small GET)')
    print('')
    print(formatTable(['case', '', 'rps', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'failures'], passthrough.map((c) => {
      const runs = pass.get(c.key)!
      return [c.key, c.label, rps(med(runs, (r) => r.rps)), ms(med(runs, (r) => r.p50)), ms(med(runs, (r) => r.p99)), c.gateway === undefined ? '' : rps(med(runs, (r) => r.cpuUs)), String(runs.reduce((n, r) => n + r.failures, 0))]
    })))
    print('')
    const cb = roundRatio(pass.get('c')!, pass.get('b')!)
    const p99Gap = median(pass.get('c')!.map((run, i) => run.p99 - pass.get('b')![i]!.p99))
    const cpuCb = cpuRatio(pass.get('c')!, pass.get('b')!)
    const cpuHtml = cpuRatio(pass.get('c-html')!, pass.get('b-html')!)
    print(formatTable(['measure', 'value', 'target', ''], [
      ['CPU per request, c/b', x2(cpuCb), '≤ 1.00', verdict(cpuCb <= 1)],
      ['c/b (rps)', x2(cb), '≥ 0.95', verdict(cb >= 0.95)],
      ['CPU per request, c-html/b-html', x2(cpuHtml), '≤ 1.10', verdict(cpuHtml <= 1.1)],
      ['p99(c) − p99(b)', `${ms(p99Gap)} ms`, '≤ 1 ms', verdict(p99Gap <= 1)],
      ['c-html/b-html (rps)', x2(roundRatio(pass.get('c-html')!, pass.get('b-html')!)), '(no target)', ''],
      ['b/a (what any proxy costs)', x2(roundRatio(pass.get('b')!, pass.get('a')!)), '', ''],
      ['CPU per request, c-tls/b-tls (HTTPS)', x2(cpuRatio(pass.get('c-tls')!, pass.get('b-tls')!)), '(no target)', 'the gateway against a bare proxy, both serving HTTPS'],
      ['c-tls/b-tls (rps, HTTPS)', x2(roundRatio(pass.get('c-tls')!, pass.get('b-tls')!)), '(no target)', ''],
      ['c-tls/c (what HTTPS costs the gateway)', x2(roundRatio(pass.get('c-tls')!, pass.get('c')!)), '', ''],
    ]))
    print('')
  }
  if (on('2')) {
    print('### 2. The JARM path (instant upstream)')
    print('')
    const dRuns = jarmRuns.get('d')!
    print(formatTable(['case', '', 'rps', 'p50 ms', 'p99 ms', 'ratio to d (f: to d-f)', 'gateway CPU µs/resp', 'JARM extra CPU µs (over d)', 'failures'], jarm.map((c) => {
      const runs = jarmRuns.get(c.key)!
      const cpu = med(runs, (r) => r.cpuUs)
      const base = c.key === 'f' ? jarmRuns.get('d-f')! : dRuns
      const baseCpu = med(base, (r) => r.cpuUs)
      const isBase = c.key === 'd' || c.key === 'd-f'
      return [c.key, c.label, rps(med(runs, (r) => r.rps)), ms(med(runs, (r) => r.p50)), ms(med(runs, (r) => r.p99)), isBase ? '' : x2(roundRatio(runs, base)), rps(cpu), isBase ? '' : rps(cpu - baseCpu), String(runs.reduce((n, r) => n + r.failures, 0))]
    })))
    print('')
    // Extra CPU over the plain request of the same round and process, per round, then the median.
    const extra = (key: string, base = dRuns): number[] => jarmRuns.get(key)!.map((run, i) => (run.cpuUs ?? NaN) - (base[i]!.cpuUs ?? NaN))
    const perRound = (values: number[], by: number[]): number => median(values.map((value, i) => ratio(value, by[i]!)))
    const extraEs = extra('e-ES256')
    const extraEd = extra('e-EdDSA')
    const extraHs = extra('e-HS256')
    const extraF = extra('f', jarmRuns.get('d-f')!)
    const overFloorEs = perRound(extraEs, floors.ES256)
    const overFloorEd = perRound(extraEd, floors.EdDSA)
    const fOverE = perRound(extraF, extraEs)
    const us = (value: number): string => `${Math.round(value)} µs`
    print(formatTable(['measure', 'value', 'target', ''], [
      ['floor: one ES256 signature (node:crypto, this process)', us(median(floors.ES256)), '', 'measured in every round'],
      ['floor: one EdDSA signature', us(median(floors.EdDSA)), '', ''],
      ['JARM extra CPU ES256 / its floor', x2(overFloorEs), '≤ 2.00', verdict(overFloorEs <= 2)],
      ['JARM extra CPU EdDSA / its floor', x2(overFloorEd), '≤ 2.00', verdict(overFloorEd <= 2)],
      ['form_post.jwt extra CPU / query.jwt\'s (f over d-f, e-ES256 over d)', x2(fOverE), '≤ 1.50', verdict(fOverE <= 1.5)],
      ['JARM extra CPU without an asymmetric signature (e-HS256 over d)', us(median(extraHs)), '', 'the whole JARM step but the signature: an HMAC instead'],
      ['ES256 signature inside a request (e-ES256 over e-HS256)', us(median(extraEs.map((value, i) => value - extraHs[i]!))), '', 'the same signature with the caches a request leaves it'],
      ['request object verified (h over e-ES256)', us(median(extra('h').map((value, i) => value - extraEs[i]!))), '(no target)', 'an ES256 verification, its claims and its jti'],
      ['e/d ES256 (rps)', x2(roundRatio(jarmRuns.get('e-ES256')!, dRuns)), '(no target)', ''],
      ['g/d (rps)', x2(roundRatio(jarmRuns.get('g')!, dRuns)), '(no target)', ''],
    ]))
    print('')
  }
  if (on('3')) {
    print('### 3. Complete browser flows (login + consent + JARM response)')
    print('')
    const ofFlow = (runs: FlowResult[], pick: (run: FlowResult) => Map<string, number>, name: string): number => median(runs.map((run) => pick(run).get(name) ?? NaN))
    print(formatTable(['case', '', 'flows/s', 'CPU ms per flow: proxy (gateway or bare)', 'oidc-provider', 'load generator', 'connections accepted per flow: proxy', 'oidc-provider', 'failed flows'], flowTargets.map((t) => {
      const runs = flowRuns.get(t.key)!
      const proxyName = t.servers.find((server) => server.name !== 'oidc-provider')?.name
      const cpu = (name: string | undefined): string => name === undefined ? '' : (ofFlow(runs, (run) => run.cpuPerFlow, name) / 1000).toFixed(2)
      const connections = (name: string | undefined): string => name === undefined ? '' : ofFlow(runs, (run) => run.connectionsPerFlow, name).toFixed(3)
      return [t.key, t.label, median(runs.map((r) => r.perSecond)).toFixed(1), cpu(proxyName), cpu('oidc-provider'), cpu('load generator'), connections(proxyName), connections('oidc-provider'), String(runs.reduce((n, r) => n + r.failures, 0))]
    })))
    print('')
    const flowRatio = (key: string, by: string): number => median(flowRuns.get(key)!.map((run, i) => ratio(run.perSecond, flowRuns.get(by)![i]!.perSecond)))
    const gatewayNative = flowRatio('gateway', 'native')
    print(formatTable(['measure', 'value', 'target', ''], [
      ['gateway/native (flows/s)', x2(gatewayNative), '≥ 0.80', verdict(gatewayNative >= 0.8)],
      ['proxied/native (flows/s)', x2(flowRatio('proxied', 'native')), '', 'the floor: what one more proxy hop costs a flow on this machine'],
      ['gateway/proxied (flows/s)', x2(flowRatio('gateway', 'proxied')), '', 'the gateway against a bare proxy in the same place'],
    ]))
    print('')
  }
  if (on('4')) {
    print('### 4. Memory of the gateway process')
    print('')
    const firstSoak = soakChunks[0]?.usage ?? memoryAfterLoad
    const lastSoak = memoryAfterSoak ?? memoryAfterLoad
    const rssGrowth = lastSoak.rss - firstSoak.rss
    const peak = Math.max(lastSoak.peakRss, memoryAfterLoad.peakRss)
    print(formatTable(['when', 'RSS MB', 'heap used after GC MB'], [
      ['at start (keys loaded, discovery read)', mb(memoryAtStart.rss), mb(memoryAtStart.heapUsed)],
      ['after sections 1 and 2', mb(memoryAfterLoad.rss), mb(memoryAfterLoad.heapUsed)],
      ...soakChunks.map((c) => [`soak: after ${c.responses} JARM responses${c.failures > 0 ? ` (${c.failures} failures)` : ''}`, mb(c.usage.rss), mb(c.usage.heapUsed)]),
      ['peak under load (sampled every 100 ms)', mb(peak), ''],
    ]))
    print('')
    print(formatTable(['measure', 'value', 'target', ''], [
      ['peak RSS under load', `${mb(peak)} MB`, '< 150 MB', verdict(peak < 150 * 1024 * 1024)],
      [`RSS growth, first to last quarter of the soak`, `${mb(rssGrowth)} MB`, 'noise', ''],
      [`heap growth (after GC), first to last quarter`, `${mb(lastSoak.heapUsed - firstSoak.heapUsed)} MB`, 'noise', ''],
    ]))
  }
  const failures = [...pass.values(), ...jarmRuns.values()].flat().reduce((n, r) => n + r.failures, 0)
    + soakChunks.reduce((n, c) => n + c.failures, 0)
    + [...flowRuns.values()].flat().reduce((n, r) => n + r.failures, 0)
  if (failures > 0) {
    print('')
    print(`FAILURES: ${failures} requests or flows did not answer as expected`)
    process.exitCode = 1
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`)
  await stopAll()
  process.exit(1)
})
