/**
 * The demo's relying party: a tiny web app that starts flows in each JARM mode through the gateway
 * and shows, on its callback page, the raw response, the verified JWT header and claims, and the
 * key that signed it. Verification is oauth4webapi's, an independent certified client library.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import * as oauth from 'oauth4webapi'

export const DEMO_CLIENT = { client_id: 'app1', authorization_signed_response_alg: 'ES256' } as const
export const DEMO_CLIENT_SECRET = 'demo-app1-secret-long-enough-for-hs256-0123456789'
export const DEMO_MODES = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const
export const DEMO_RESPONSE_TYPES = ['code'] as const

interface Pending { state: string, nonce: string, verifier: string, mode: string }

const escape = (value: string): string => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const json = (value: unknown): string => escape(JSON.stringify(value, null, 2))

function page (title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto;white-space:pre-wrap;word-break:break-all}.ok{color:#070}.bad{color:#b00}</style>
</head><body>${body}</body></html>`
}

function decodePart (part: string | undefined): unknown {
  try { return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) } catch { return undefined }
}

export interface DemoClient { readonly url: string, readonly server: Server, close (): Promise<void> }

export async function startDemoClient (options: { issuer: string, port: number, host?: string }): Promise<DemoClient> {
  const pending = new Map<string, Pending>()
  let as: oauth.AuthorizationServer | undefined
  const discover = async (): Promise<oauth.AuthorizationServer> => {
    if (as !== undefined) return as
    const issuer = new URL(options.issuer)
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }))
    return as
  }
  let base = ''
  const redirectUri = (): string => `${base}/callback`

  async function start (res: ServerResponse, mode: string): Promise<void> {
    const server = await discover()
    const flow: Pending = { state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), verifier: oauth.generateRandomCodeVerifier(), mode }
    const id = randomUUID()
    pending.set(id, flow)
    const url = new URL(server.authorization_endpoint!)
    for (const [name, value] of Object.entries({
      client_id: DEMO_CLIENT.client_id, response_type: 'code', response_mode: mode, scope: 'openid', redirect_uri: redirectUri(),
      state: flow.state, nonce: flow.nonce, code_challenge: await oauth.calculatePKCECodeChallenge(flow.verifier), code_challenge_method: 'S256',
    })) url.searchParams.set(name, value)
    res.writeHead(302, { location: url.href, 'set-cookie': `demo_flow=${id}; Path=/; HttpOnly; SameSite=Lax` }).end()
  }

  async function callback (req: IncomingMessage, res: ServerResponse, parameters: URLSearchParams): Promise<void> {
    const id = /(?:^|;\s*)demo_flow=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
    const flow = id === undefined ? undefined : pending.get(id)
    const response = parameters.get('response') ?? ''
    const [header, claims] = response.split('.').map(decodePart)
    let verdict: string
    let tokens = ''
    try {
      if (flow === undefined) throw new Error('no flow in progress in this browser (start one from the demo home page)')
      const server = await discover()
      const verified = await oauth.validateJwtAuthResponse(server, DEMO_CLIENT, parameters, flow.state, { [oauth.allowInsecureRequests]: true })
      verdict = `<p class="ok" id="verdict">Verified by oauth4webapi: signature (${escape(String((header as { alg?: string })?.alg))}, key ${escape(String((header as { kid?: string })?.kid))} from the gateway's JWKS), iss, aud, exp and state all check out.</p>`
      const tokenResponse = await oauth.processAuthorizationCodeResponse(server, DEMO_CLIENT,
        await oauth.authorizationCodeGrantRequest(server, DEMO_CLIENT, oauth.ClientSecretBasic(DEMO_CLIENT_SECRET), verified, redirectUri(), flow.verifier, { [oauth.allowInsecureRequests]: true }),
        { expectedNonce: flow.nonce })
      tokens = `<h2>Code redeemed at the token endpoint</h2><pre id="tokens">${json({ token_type: tokenResponse.token_type, expires_in: tokenResponse.expires_in, scope: tokenResponse.scope, id_token_claims: oauth.getValidatedIdTokenClaims(tokenResponse) })}</pre>`
      pending.delete(id!)
    } catch (error) {
      verdict = `<p class="bad" id="verdict">Not accepted: ${escape((error as Error).message)}</p>`
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page('JARM response', `
<h1>JARM response (${escape(flow?.mode ?? 'unknown mode')})</h1>${verdict}
<h2>Raw response parameter</h2><pre id="raw">${escape(response)}</pre>
<h2>JWT header</h2><pre id="header">${json(header)}</pre>
<h2>JWT claims</h2><pre id="claims">${json(claims)}</pre>${tokens}
<p><a href="/">Start another flow</a></p>`))
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo')
    const fail = (error: Error): void => { res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message) }
    if (req.method === 'GET' && url.pathname === '/') {
      const links = DEMO_MODES.map((mode) => `<li><a href="/start?mode=${mode}">response_type=code, response_mode=${mode}</a></li>`).join('')
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('jarm-gateway demo', `<h1>jarm-gateway demo</h1>
<p>The identity server (oidc-provider, JARM off) sits behind jarm-gateway at <code>${escape(options.issuer)}</code>. Pick a response mode; log in with any name and password.</p><ul>${links}</ul>`))
    } else if (req.method === 'GET' && url.pathname === '/start') {
      start(res, url.searchParams.get('mode') ?? 'jwt').catch(fail)
    } else if (req.method === 'GET' && url.pathname === '/callback' && url.searchParams.has('response')) {
      callback(req, res, url.searchParams).catch(fail)
    } else if (req.method === 'GET' && url.pathname === '/callback') {
      // fragment.jwt: the response is in the fragment, which only the browser sees; post it here.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Reading the fragment', `<form method="post" action="/callback"><input type="hidden" name="response"></form>
<script>var f=document.forms[0];f.response.value=new URLSearchParams(location.hash.slice(1)).get('response')||'';f.submit()</script>`))
    } else if (req.method === 'POST' && url.pathname === '/callback') {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => { callback(req, res, new URLSearchParams(Buffer.concat(chunks).toString('utf8'))).catch(fail) })
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    }
  })
  await new Promise<void>((resolve) => server.listen(options.port, options.host ?? '127.0.0.1', resolve))
  base = `http://${options.host ?? '127.0.0.1'}:${(server.address() as { port: number }).port}`
  return { url: base, server, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }) }
}
