/// <reference path="../../types/oidc-provider.d.ts" />
/**
 * A legacy server that hosts several issuers, as Keycloak hosts realms: one oidc-provider per realm
 * (JARM off, as in demo/legacy-server.ts), each with its own signing keys and its own clients (the
 * same client_id with a different secret in each), mounted under `/realms/<name>` in one process.
 * Mounting follows oidc-provider's docs for a plain node http server: the prefix is cut from
 * `req.url` and kept in `req.originalUrl`, so the provider builds its URLs under the issuer's path.
 * Paths under no realm answer 404 `no realm here`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider, { type ClientMetadata } from 'oidc-provider'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'

export interface Realm {
  readonly name: string
  readonly issuer: string
  readonly provider: Provider
  /** app1's secret in this realm. */
  readonly secret: string
}

export interface MultiRealmServer {
  readonly url: string
  readonly realms: ReadonlyMap<string, Realm>
  /** Every request path the server received, in order (to see what passed through untouched). */
  readonly received: string[]
  /** A test's own answer to a request, before the realms see it (true when it answered). */
  script: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined
  close (): Promise<void>
}

export const REALM_REDIRECT_URI = 'https://client.example.org/cb'

export function realmSecret (name: string): string {
  return `app1-secret-of-realm-${name}-that-is-long-enough-0123456789`
}

function clientsOf (name: string): ClientMetadata[] {
  return [{
    client_id: 'app1',
    client_secret: realmSecret(name),
    redirect_uris: [REALM_REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }]
}

/** @param publicOrigin the gateway's origin: each realm's issuer is `${publicOrigin}/realms/<name>`. */
export async function startMultiRealmServer (publicOrigin: string, names: readonly string[]): Promise<MultiRealmServer> {
  const realms = new Map<string, Realm>()
  const callbacks = new Map<string, ReturnType<Provider['callback']>>()
  for (const name of names) {
    const issuer = `${publicOrigin}/realms/${name}`
    const provider = new Provider(issuer, {
      clients: clientsOf(name),
      jwks: { keys: [await generatePrivateJwk('RS256')] },
      cookies: { keys: [`cookie-key-of-realm-${name}`], long: { sameSite: 'none' } },
      enableHttpPostMethods: true,
      features: { devInteractions: { enabled: true }, jwtResponseModes: { enabled: false } },
    })
    provider.proxy = true
    realms.set(name, { name, issuer, provider, secret: realmSecret(name) })
    callbacks.set(name, provider.callback())
  }
  const received: string[] = []
  const running: MultiRealmServer = {
    url: '',
    realms,
    received,
    script: undefined,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
  const server: Server = createServer((req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => {
    received.push(req.url!)
    if (running.script?.(req, res) === true) return
    const name = /^\/realms\/([^/?]+)/.exec(req.url!)?.[1]
    const callback = name === undefined ? undefined : callbacks.get(name)
    if (callback === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no realm here')
      return
    }
    req.originalUrl = req.url
    req.url = req.url!.slice(`/realms/${name}`.length) || '/'
    void callback(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(running, { url: `http://127.0.0.1:${port}` })
}
