/// <reference path="../types/oidc-provider.d.ts" />
/**
 * The bundled legacy server of the demo and the tests: a real oidc-provider with its own JARM feature
 * off (as a server that predates JARM), its devInteractions login and consent pages on. Tests listen
 * on port 0; the demo on a fixed port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider'

export interface LegacyServer {
  readonly url: string
  readonly provider: Provider
  close (): Promise<void>
}

/** The clients of the tests. */
export const DEFAULT_CLIENTS: ClientMetadata[] = [
  {
    client_id: 'app1',
    client_secret: 'app1-secret-that-is-long-enough-for-hs256-0123456789',
    redirect_uris: ['https://client.example.org/cb', 'https://client.example.org/cb?tenant=a%20b&x=1', 'http://127.0.0.1/form-callback'],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: 'app2',
    client_secret: 'app2-secret-that-is-long-enough-for-hs256-0123456789',
    redirect_uris: ['https://app2.example.org/callback'],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
]

export interface LegacyServerOptions {
  /** The public issuer: the gateway's address, plus a path for an issuer with one. */
  readonly issuer: string
  readonly clients?: ClientMetadata[]
  readonly configuration?: Configuration
  /**
   * Accept POSTed authorization requests (oidc-provider then insists on SameSite=None cookies, which
   * a real browser drops over plain http: the HTTP-level tests turn it on, the demo leaves it off).
   */
  readonly httpPost?: boolean
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /**
   * Serve HTTPS with this certificate and key (PEM); with `clientCa`, only to clients whose
   * certificate chains to it (mutual TLS, as a legacy server behind a private network may ask).
   */
  readonly tls?: { readonly cert: string, readonly key: string, readonly clientCa?: string }
  /** Sees every request first (a test records what reached the legacy server). */
  readonly onRequest?: (req: IncomingMessage) => void
}

export async function startLegacyServer (options: LegacyServerOptions): Promise<LegacyServer> {
  const provider = new Provider(options.issuer, {
    clients: options.clients ?? DEFAULT_CLIENTS,
    cookies: { keys: ['legacy-server-cookie-key-for-tests'], ...(options.httpPost === true ? { long: { sameSite: 'none' } } : {}) },
    enableHttpPostMethods: options.httpPost === true,
    features: { devInteractions: { enabled: true }, jwtResponseModes: { enabled: false } },
    ...options.configuration,
  })
  provider.proxy = true
  const mountPath = new URL(options.issuer).pathname.replace(/\/$/, '')
  const callback = provider.callback()
  const handler = (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse): void => {
    options.onRequest?.(req)
    if (mountPath !== '') {
      if (!(req.url ?? '').startsWith(mountPath)) {
        res.writeHead(404).end('not found')
        return
      }
      req.originalUrl = req.url
      req.url = req.url!.slice(mountPath.length) || '/'
    }
    void callback(req, res)
  }
  const { tls } = options
  const server: Server = tls === undefined
    ? createServer(handler)
    : createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }) }, handler)
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    provider,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
