/**
 * A small local fake of a legacy server, for the answer shapes and faults no real server here
 * produces: it publishes a discovery document (issuer = the gateway's address) and hands every other
 * request to the test's handler with its parameters (query and form body) already read. The gateway
 * in front of it is the real one, on port 0, its logs kept.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { buildConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve, type RunningGateway } from '../../src/server.js'
import { STATE_SECRET, TEST_KEYS } from './stack.js'

export interface UpstreamRequest {
  readonly method: string
  readonly path: string
  readonly params: URLSearchParams
  readonly headers: IncomingMessage['headers']
  /** The body as it arrived (already read, so the handler cannot read `req` again). */
  readonly body: Buffer
}

export type UpstreamHandler = (request: UpstreamRequest, res: ServerResponse, req: IncomingMessage) => void

export interface FakeStack {
  readonly gatewayUrl: string
  readonly gateway: RunningGateway
  readonly upstream: Server
  readonly upstreamUrl: string
  readonly logs: Array<Record<string, unknown>>
  readonly received: UpstreamRequest[]
  /** With `recordBytes`: every byte the gateway sent the legacy server, one latin1 string per connection, growing as bytes arrive. */
  readonly wire: string[]
  close (): Promise<void>
}

export const AUTHORIZATION_PATH = '/authorize'
export const PAR_PATH = '/par'

export interface FakeStackOptions {
  readonly handler: UpstreamHandler
  readonly config?: Record<string, unknown>
  /** Point the gateway at another address (a closed port, say). */
  readonly upstreamUrl?: string
  /** Serves the discovery document itself when it returns true (compressed, broken, ...). */
  readonly discovery?: (json: string, res: ServerResponse, req: IncomingMessage) => boolean
  /** Serves the legacy server's own JWKS itself when it returns true (an empty set by default). */
  readonly jwks?: (json: string, res: ServerResponse, req: IncomingMessage) => boolean
  /** The gateway's clock (milliseconds), to test what depends on time. */
  readonly now?: () => number
  /**
   * Put a TCP tap between the gateway and the fake, recording exactly the bytes the legacy server
   * receives (in `wire`): what a server reads from its socket, not what Node's parser made of it.
   */
  readonly recordBytes?: boolean
}

/** A TCP relay to `port` that keeps, per connection, the bytes going towards it. */
async function byteTap (port: number, wire: string[]): Promise<TcpServer> {
  const open = new Set<Socket>()
  const tap = createTcpServer((client) => {
    open.add(client)
    client.on('close', () => open.delete(client))
    const index = wire.push('') - 1
    const server = connect(port, '127.0.0.1')
    client.on('data', (chunk: Buffer) => { wire[index] += chunk.toString('latin1') })
    client.pipe(server).pipe(client)
    client.on('error', () => server.destroy())
    server.on('error', () => client.destroy())
    client.on('close', () => server.destroy())
    server.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => tap.listen(0, '127.0.0.1', resolve))
  // Closing the tap ends the connections it relays, idle keep-alive ones included.
  const close = tap.close.bind(tap)
  tap.close = (callback) => { for (const socket of open) socket.destroy(); return close(callback) }
  return tap
}

export async function startFakeStack (options: FakeStackOptions): Promise<FakeStack> {
  const gatewayServer = await listen('127.0.0.1', 0)
  const gatewayUrl = `http://127.0.0.1:${(gatewayServer.address() as AddressInfo).port}`
  const received: UpstreamRequest[] = []
  const upstream = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url!, 'http://upstream')
      const params = new URLSearchParams(url.search)
      if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        for (const [name, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.append(name, value)
      }
      if (url.pathname === '/.well-known/openid-configuration') {
        const json = JSON.stringify({
          issuer: gatewayUrl,
          authorization_endpoint: `${gatewayUrl}${AUTHORIZATION_PATH}`,
          pushed_authorization_request_endpoint: `${gatewayUrl}${PAR_PATH}`,
          jwks_uri: `${gatewayUrl}/jwks`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
        })
        if (options.discovery?.(json, res, req) !== true) res.writeHead(200, { 'content-type': 'application/json' }).end(json)
        return
      }
      if (url.pathname === '/jwks') {
        const json = '{"keys":[]}'
        if (options.jwks?.(json, res, req) !== true) res.writeHead(200, { 'content-type': 'application/json' }).end(json)
        return
      }
      const request = { method: req.method!, path: url.pathname, params, headers: req.headers, body: Buffer.concat(chunks) }
      received.push(request)
      options.handler(request, res, req)
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const wire: string[] = []
  const tap = options.recordBytes === true ? await byteTap((upstream.address() as AddressInfo).port, wire) : undefined
  const upstreamUrl = options.upstreamUrl ?? `http://127.0.0.1:${((tap ?? upstream).address() as AddressInfo).port}`
  const logs: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>)
      callback()
    },
  })
  const { upstream: upstreamConfig, ...rest } = options.config ?? {}
  const config = await buildConfig({
    upstream: { url: upstreamUrl, ...(upstreamConfig as object | undefined) },
    keys: TEST_KEYS,
    state: { secrets: [STATE_SECRET] },
    clients: { app1: { authorization_signed_response_alg: 'ES256' } },
    ...rest,
  }, process.cwd())
  const gateway = serve(gatewayServer, config, createLogger({ level: 'debug', destination }), options.now)
  await gateway.gateway.start().catch(() => undefined)
  return {
    gatewayUrl,
    gateway,
    upstream,
    upstreamUrl,
    logs,
    received,
    wire,
    close: async () => {
      gatewayServer.closeAllConnections()
      await gateway.close()
      if (tap !== undefined) await new Promise<void>((resolve) => tap.close(() => resolve()))
      upstream.closeAllConnections()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    },
  }
}

export const CLIENT_STATE = 'client-state-0123'
export const REDIRECT_URI = 'https://client.example.org/cb'

/** An authorization request URL at the gateway, as a client would send it. */
export function authorizationUrl (stack: FakeStack, parameters: Record<string, string> = {}): URL {
  const url = new URL(AUTHORIZATION_PATH, stack.gatewayUrl)
  const all: Record<string, string> = { client_id: 'app1', response_type: 'code', redirect_uri: REDIRECT_URI, state: CLIENT_STATE, response_mode: 'query.jwt', ...parameters }
  for (const [name, value] of Object.entries(all)) url.searchParams.set(name, value)
  return url
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

/** Placeholders a fixture page may use: `{{name}}` (HTML-escaped), `{{name|raw}}`, `{{name|dec}}` / `{{name|hex}}` (every character a numeric reference). */
export function fillTemplate (template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{(\w+)(?:\|(\w+))?\}\}/g, (_, name: string, filter: string | undefined) => {
    const value = values[name]
    if (value === undefined) throw new Error(`the fixture uses {{${name}}}, which the test does not fill`)
    if (filter === 'raw') return value
    if (filter === 'dec') return [...value].map((c) => `&#${c.codePointAt(0)!};`).join('')
    if (filter === 'hex') return [...value].map((c) => `&#x${c.codePointAt(0)!.toString(16).toUpperCase()};`).join('')
    return escapeHtml(value)
  })
}

/** Waits (without a deadline: tap's own timeout bounds it) until `check` holds. */
export async function eventually (check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10))
}

export function connectionsOf (server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => error === null ? resolve(count) : reject(error)))
}

/** A test's answer for one request: true when it answered, false to leave it to the default. */
export type ScriptedAnswer = (request: UpstreamRequest, res: ServerResponse) => boolean

/**
 * A fake stack whose legacy server answers what the current script answers and, for the rest, a
 * 200 text login page; `handlers.current` is set per test (and cleared by the caller after each).
 */
export async function startScriptedStack (config?: Record<string, unknown>): Promise<{ stack: FakeStack, handlers: { current: ScriptedAnswer | undefined } }> {
  const handlers: { current: ScriptedAnswer | undefined } = { current: undefined }
  const stack = await startFakeStack({
    handler: (request, res) => {
      if (handlers.current?.(request, res) === true) return
      res.writeHead(200, { 'content-type': 'text/plain' }).end('login page')
    },
    ...(config === undefined ? {} : { config }),
  })
  return { stack, handlers }
}
