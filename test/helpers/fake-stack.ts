/**
 * A fast, scriptable legacy server (a local fake) behind the real gateway, both on port 0, for the
 * property, fuzz, security and load suites. The fake speaks just enough OAuth to finish a flow:
 * discovery, an empty JWKS, and an authorization endpoint that parks the request behind one
 * "interaction" redirect (as real servers answer after their login page), then answers the
 * redirect_uri in the plain mode it was asked for. Hostile answers are scripted per test with
 * `answer`; the real oidc-provider lives in stack.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'
import { Writable } from 'node:stream'
import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyResult } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve, type RunningGateway } from '../../src/server.js'
import { readForm } from './browser-agent.js'
import { STATE_SECRET, TEST_KEYS } from './stack.js'

export const HS_SECRET = 'hs256-client-secret-for-the-fake-stack-0123456789'

/** What the fake does with a request: return true when the script answered it itself. */
export type Script = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>

export interface FakeStack {
  readonly gateway: RunningGateway
  readonly gatewayUrl: string
  readonly upstreamUrl: string
  readonly logs: Array<Record<string, unknown>>
  /** Replace the fake's behaviour for the next requests (undefined: the plain OAuth behaviour). */
  script: Script | undefined
  /** Upstream sockets open right now (to show none is left behind). */
  upstreamSockets (): number
  close (): Promise<void>
}

/** The plain answer of a legacy server for these authorization parameters. */
export function plainAnswer (res: ServerResponse, parameters: URLSearchParams, extra: Record<string, string> = {}): void {
  const redirectUri = parameters.get('redirect_uri')!
  const mode = parameters.get('response_mode') ?? 'query'
  const answer = new URLSearchParams()
  const types = (parameters.get('response_type') ?? 'code').split(' ')
  if (types.includes('code')) answer.set('code', randomBytes(16).toString('base64url'))
  if (types.includes('token')) { answer.set('access_token', randomBytes(16).toString('base64url')); answer.set('token_type', 'Bearer'); answer.set('expires_in', '3600') }
  if (types.includes('id_token')) answer.set('id_token', 'eyJhbGciOiJub25lIn0.e30.')
  for (const [name, value] of Object.entries(extra)) answer.set(name, value)
  const state = parameters.get('state')
  if (state !== null) answer.set('state', state)
  if (mode === 'form_post') {
    const fields = [...answer].map(([n, v]) => `<input type="hidden" name="${html(n)}" value="${html(v)}">`).join('')
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(`<!DOCTYPE html><html><body onload="document.forms[0].submit()"><form method="post" action="${html(redirectUri)}">${fields}</form></body></html>`)
    return
  }
  const url = new URL(redirectUri)
  if (mode === 'fragment') url.hash = answer.toString()
  else for (const [name, value] of answer) url.searchParams.append(name, value)
  res.writeHead(303, { location: url.href })
  res.end()
}

function html (value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

export interface FakeStackOptions {
  readonly config?: Record<string, unknown>
  readonly now?: () => number
  /** Keep every log line (default); a soak turns it off, or the test itself would grow. */
  readonly retainLogs?: boolean
}

export interface LegacyFake {
  readonly url: string
  script: Script | undefined
  sockets (): number
  close (): Promise<void>
}

/** The fake legacy server alone, for an issuer (the public address in front of it). */
export async function startLegacyFake (issuer: string): Promise<LegacyFake> {
  const parked = new Map<string, URLSearchParams>()
  const sockets = new Set<Socket>()
  const scripted: { script: Script | undefined } = { script: undefined }
  const upstream: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake.invalid')
    const answer = async (): Promise<void> => {
      if (scripted.script !== undefined && await scripted.script(req, res, url)) return
      if (url.pathname === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, end_session_endpoint: `${issuer}/session/end`, response_modes_supported: ['query', 'fragment', 'form_post'] }))
        return
      }
      if (url.pathname === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"keys":[]}')
        return
      }
      if (url.pathname === '/auth') {
        let parameters = url.searchParams
        if (req.method === 'POST') {
          const chunks: Buffer[] = []
          for await (const chunk of req) chunks.push(chunk as Buffer)
          parameters = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
        }
        if (parameters.get('redirect_uri') === null) { res.writeHead(400).end('redirect_uri missing'); return }
        const uid = randomBytes(12).toString('base64url')
        parked.set(uid, parameters)
        res.writeHead(303, { location: `/interaction/${uid}` })
        res.end()
        return
      }
      if (url.pathname.startsWith('/interaction/')) {
        const parameters = parked.get(url.pathname.slice('/interaction/'.length))
        if (parameters === undefined) { res.writeHead(404).end('no such interaction'); return }
        parked.delete(url.pathname.slice('/interaction/'.length))
        plainAnswer(res, parameters)
        return
      }
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
    }
    answer().catch((error: Error) => { res.destroy(error) })
  })
  upstream.on('connection', (socket: Socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    get script () { return scripted.script },
    set script (script: Script | undefined) { scripted.script = script },
    sockets: () => sockets.size,
    close: async () => {
      upstream.closeAllConnections()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    },
  }
}

export async function startFakeStack (options: FakeStackOptions = {}): Promise<FakeStack> {
  const gatewayServer = await listen('127.0.0.1', 0)
  const { port } = gatewayServer.address() as AddressInfo
  const issuer = `http://127.0.0.1:${port}`
  const fake = await startLegacyFake(issuer)
  const upstreamUrl = fake.url

  const logs: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      if (options.retainLogs !== false) for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  const { upstream: upstreamConfig, ...rest } = options.config ?? {}
  const config = await buildConfig({
    upstream: { url: upstreamUrl, timeout_ms: 2000, ...(upstreamConfig as object | undefined) },
    keys: TEST_KEYS,
    state: { secrets: [STATE_SECRET] },
    clients: { app1: { authorization_signed_response_alg: 'ES256' }, hs: { authorization_signed_response_alg: 'HS256', client_secret: HS_SECRET } },
    ...rest,
  }, process.cwd())
  const gateway = serve(gatewayServer, config, createLogger({ level: 'debug', destination }), options.now)
  await gateway.gateway.start()
  return {
    gateway,
    gatewayUrl: issuer,
    upstreamUrl,
    logs,
    get script () { return fake.script },
    set script (script: Script | undefined) { fake.script = script },
    upstreamSockets: () => fake.sockets(),
    close: async () => {
      gateway.server.closeAllConnections()
      await gateway.close()
      await fake.close()
    },
  }
}

/** The gateway's published keys (through the gateway, as a client reads them). */
export async function gatewayKeySet (gatewayUrl: string): Promise<ReturnType<typeof createLocalJWKSet>> {
  const jwks = await (await fetch(`${gatewayUrl}/jwks`)).json() as { keys: [] }
  return createLocalJWKSet(jwks)
}

export interface FlowOptions {
  readonly mode: 'query.jwt' | 'fragment.jwt' | 'form_post.jwt' | 'jwt'
  readonly clientId?: string
  readonly redirectUri?: string
  readonly responseType?: string
  readonly state?: string | undefined
  readonly extra?: Record<string, string>
  readonly method?: 'GET' | 'POST'
}

/** The `response` parameter the client receives at the end of a flow, with where it came. */
export interface FlowResult { readonly response: string, readonly where: 'query' | 'fragment' | 'form', readonly target: string }

/**
 * One complete flow through the gateway: the authorization request, the interaction redirect, the
 * legacy server's answer turned into the JARM response. Throws on anything else.
 */
export async function runFlow (gatewayUrl: string, options: FlowOptions, fetchImpl: typeof fetch = fetch): Promise<FlowResult> {
  const parameters = new URLSearchParams({
    client_id: options.clientId ?? 'app1',
    response_type: options.responseType ?? 'code',
    redirect_uri: options.redirectUri ?? 'https://client.example.org/cb',
    response_mode: options.mode,
    scope: 'openid',
    ...options.extra,
  })
  if (options.state !== undefined) parameters.set('state', options.state)
  const first = options.method === 'POST'
    ? await fetchImpl(`${gatewayUrl}/auth`, { method: 'POST', body: parameters.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' })
    : await fetchImpl(`${gatewayUrl}/auth?${parameters}`, { redirect: 'manual' })
  await first.arrayBuffer()
  if (first.status !== 303) throw new Error(`authorization request answered ${first.status}`)
  // The browser keeps the cookie that binds the flow to it, and sends it on.
  const cookie = first.headers.getSetCookie().map((value) => value.split(';')[0]!).join('; ')
  const second = await fetchImpl(new URL(first.headers.get('location')!, gatewayUrl), { redirect: 'manual', headers: cookie === '' ? {} : { cookie } })
  const body = await second.text()
  if (second.status === 303) {
    const location = new URL(second.headers.get('location')!)
    const fromFragment = new URLSearchParams(location.hash.slice(1)).get('response')
    if (fromFragment !== null) return { response: fromFragment, where: 'fragment', target: location.href.slice(0, location.href.indexOf('#')) }
    const fromQuery = location.searchParams.get('response')
    if (fromQuery !== null) { location.searchParams.delete('response'); return { response: fromQuery, where: 'query', target: location.href } }
  }
  if (second.status === 200) {
    const form = readForm(body)
    const response = form?.fields.find(([name]) => name === 'response')?.[1]
    if (form !== undefined && response !== undefined) return { response, where: 'form', target: form.action }
  }
  throw new Error(`the flow ended on ${second.status}`)
}

/** Verifies a JARM response as a client would: the gateway's JWKS (or an HS secret), iss, aud. */
export async function verifyResponse (response: string, keys: ReturnType<typeof createLocalJWKSet> | Uint8Array, expected: { issuer: string, clientId: string, algorithms: string[] }): Promise<JWTVerifyResult<JWTPayload>> {
  const options = { issuer: expected.issuer, audience: expected.clientId, algorithms: expected.algorithms }
  return keys instanceof Uint8Array ? jwtVerify(response, keys, options) : jwtVerify(response, keys, options)
}
