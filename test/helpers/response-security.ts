/**
 * Helpers for the per-client response security tests: legacy clients registered for any response
 * type, the parameters a client reads its response from, and a client's own jwks_uri server.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ClientMetadata, Configuration } from 'oidc-provider'

export const REDIRECT_URI = 'https://client.example.org/cb'

/** Every response type the legacy server must allow for implicit and hybrid flows. */
export const ALL_RESPONSE_TYPES = ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token', 'none']

/** The legacy server with every response type on (its default has no `token` ones). */
export function legacyWith (clients: Array<Record<string, unknown>>): { clients: ClientMetadata[], configuration: Configuration } {
  return { clients: clients as ClientMetadata[], configuration: { responseTypes: ALL_RESPONSE_TYPES } }
}

/** An oidc-provider client (JARM is the gateway's business, so nothing JARM here). */
export function legacyClient (clientId: string, secret = secretOf(clientId)): Record<string, unknown> {
  return {
    client_id: clientId,
    client_secret: secret,
    redirect_uris: [REDIRECT_URI],
    response_types: ALL_RESPONSE_TYPES,
    grant_types: ['authorization_code', 'implicit'],
    token_endpoint_auth_method: 'client_secret_basic',
  }
}

/** A client's secret, the same at the legacy server and the gateway: 64+ bytes, enough for HS512 (RFC 7518 §3.2). */
export function secretOf (clientId: string): string {
  return `${clientId}-secret-that-is-long-enough-for-any-alg-HS512-needs-64-bytes-0123456789`
}


/** A client's jwks_uri on loopback: serves whatever `body` currently holds and counts the fetches. */
export interface JwksServer {
  readonly url: string
  body: string
  status: number
  fetches: number
  close (): Promise<void>
}

export async function startJwksServer (jwks: unknown): Promise<JwksServer> {
  const state = { body: JSON.stringify(jwks), status: 200, fetches: 0 }
  const server: Server = createServer((_req, res) => {
    state.fetches++
    res.writeHead(state.status, { 'content-type': 'application/json' }).end(state.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/jwks`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  })
}
