/// <reference path="../../types/oidc-provider.d.ts" />
/**
 * A real oidc-provider in a process of its own, configured exactly like the bundled legacy server
 * (devInteractions login and consent, the same client), in one of two roles:
 *   legacy: JARM off, behind the gateway (its issuer is the gateway's address; X-Forwarded-* trusted)
 *   native: its own JARM on (`features.jwtResponseModes`), reached directly (its issuer is its own
 *           address) or through a bare http-proxy (the proxy's address, given as `issuer`)
 * Both sign JARM responses with the same ES256 key type, so the comparison is like for like.
 * The parent sends `start` with { role, issuer?, jwks }; `connections` reports how many it has accepted.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import { serveCommands } from '../lib/child-ipc.js'
import { FLOW_CLIENT_ID, FLOW_REDIRECT_URI } from '../lib/fixtures.js'

let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined
const server = createServer((req, res) => {
  if (handler === undefined) { res.writeHead(503).end(); return }
  void handler(req, res)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
/** Connections accepted so far: behind the gateway, how many it opened (section 3). */
let accepted = 0
server.on('connection', () => { accepted++ })

serveCommands(url, {
  connections: () => ({ accepted }),
  start: (message) => {
    const native = message['role'] === 'native'
    // A native server is its own issuer, unless it is reached through a bare proxy (its address then).
    const issuer = typeof message['issuer'] === 'string' ? message['issuer'] : url
    const provider = new Provider(issuer, {
      clients: [{
        client_id: FLOW_CLIENT_ID,
        client_secret: 'app1-secret-that-is-long-enough-for-hs256-0123456789',
        redirect_uris: [FLOW_REDIRECT_URI],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...(native ? { authorization_signed_response_alg: 'ES256' } : {}),
      }],
      jwks: message['jwks'],
      cookies: { keys: ['legacy-server-cookie-key-for-tests'] },
      features: { devInteractions: { enabled: true }, jwtResponseModes: { enabled: native } },
    })
    provider.proxy = !native
    handler = provider.callback()
    return { issuer }
  },
})
