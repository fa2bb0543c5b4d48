/**
 * A small local fake of a legacy server, for the HTML shapes and faults no real server here
 * produces: it serves a discovery document naming the gateway as issuer and hands every other
 * request to the test's handler. The gateway runs in front of it on port 0.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { buildConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve, type RunningGateway } from '../../src/server.js'
import { STATE_SECRET, TEST_KEYS } from './stack.js'

export type FakeHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

export interface FakeStack {
  /** While down, the discovery document answers like any other path (the test's handler). */
  setDiscoveryDown (down: boolean): void
  readonly gateway: RunningGateway
  readonly gatewayUrl: string
  readonly upstream: Server
  readonly upstreamUrl: string
  readonly logs: Array<Record<string, unknown>>
  close (): Promise<void>
}

export function discoveryFor (issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
  }
}

export async function startFakeStack (handler: FakeHandler, config: Record<string, unknown> = {}, options: { now?: () => number, discoveryDown?: boolean } = {}): Promise<FakeStack> {
  const gatewayServer = await listen('127.0.0.1', 0)
  const gatewayUrl = `http://127.0.0.1:${(gatewayServer.address() as AddressInfo).port}`
  let discoveryDown = options.discoveryDown === true
  const upstream = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (req.url === '/.well-known/openid-configuration' && !discoveryDown) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(discoveryFor(gatewayUrl)))
        return
      }
      handler(req, res, Buffer.concat(chunks))
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const logs: Array<Record<string, unknown>> = []
  const destination = new Writable({ write (chunk: Buffer, _e, callback) { logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); callback() } })
  const { upstream: upstreamConfig, ...rest } = config
  const gateway = serve(gatewayServer, await buildConfig({
    upstream: { url: upstreamUrl, ...(upstreamConfig as object | undefined) },
    keys: TEST_KEYS,
    state: { secrets: [STATE_SECRET] },
    clients: { app1: { authorization_signed_response_alg: 'ES256' } },
    ...rest,
  }, '.'), createLogger({ destination }), options.now)
  await gateway.gateway.start().catch(() => undefined)
  return {
    setDiscoveryDown: (down: boolean) => { discoveryDown = down },
    gateway,
    gatewayUrl,
    upstream,
    upstreamUrl,
    logs,
    close: async () => {
      gatewayServer.closeAllConnections()
      await gateway.close()
      upstream.closeAllConnections()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    },
  }
}

/** An authorization request URL for the fake's endpoint. */
export function fakeAuthorizationUrl (gatewayUrl: string, parameters: Record<string, string> = {}): URL {
  const url = new URL('/authorize', gatewayUrl)
  const all = { client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example.org/cb', state: 'client-state', response_mode: 'query.jwt', ...parameters }
  for (const [name, value] of Object.entries(all)) url.searchParams.set(name, value)
  return url
}
