/**
 * The demo's relying party: a tiny web app that starts flows in each JARM mode and response type
 * through the gateway and shows, on its callback page, the raw response and how it arrived, the
 * verified JWT header and claims, the key of the gateway's JWKS that signed it, and the code
 * redeemed. Verification is independent of the gateway: jose checks signature, iss, aud and exp
 * against the published JWKS; for the code flow oauth4webapi (a certified client library) checks
 * the response again and redeems the code.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWK } from 'jose'
import * as oauth from 'oauth4webapi'

export const DEMO_CLIENT = { client_id: 'app1', authorization_signed_response_alg: 'ES256' } as const
export const DEMO_CLIENT_SECRET = 'demo-app1-secret-long-enough-for-hs256-0123456789'
export const DEMO_MODES = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const
/** `code id_token` returns a token, so query.jwt is refused for it (JARM §2.3.1) and `jwt` means fragment.jwt. */
export const DEMO_RESPONSE_TYPES = ['code', 'code id_token'] as const

interface Pending { state: string, nonce: string, verifier: string, mode: string, responseType: string }

const escape = (value: string): string => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const json = (value: unknown): string => escape(JSON.stringify(value, null, 2))

function page (title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222}pre{background:#f4f4f4;padding:.8rem;overflow:auto;white-space:pre-wrap;word-break:break-all;font-size:.85rem}
.ok{color:#070;font-weight:600}.bad{color:#b00;font-weight:600}table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}h2{font-size:1.1rem;margin-top:1.4rem}</style>
</head><body>${body}</body></html>`
}

/** Links for every mode and response type; query.jwt with a token-returning type is offered too, and ends on the gateway's error page. */
function flowLinks (): string {
  const rows = DEMO_RESPONSE_TYPES.map((type) => `<tr><th>${escape(type)}</th>${DEMO_MODES.map((mode) =>
    `<td><a href="/start?mode=${encodeURIComponent(mode)}&amp;response_type=${encodeURIComponent(type)}">${mode}</a></td>`).join('')}</tr>`).join('')
  return `<table id="flows"><tr><th>response_type \\ response_mode</th>${DEMO_MODES.map((m) => `<th>${m}</th>`).join('')}</tr>${rows}</table>`
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

  async function start (res: ServerResponse, mode: string, responseType: string): Promise<void> {
    const server = await discover()
    const flow: Pending = { state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), verifier: oauth.generateRandomCodeVerifier(), mode, responseType }
    const id = randomUUID()
    pending.set(id, flow)
    const url = new URL(server.authorization_endpoint!)
    for (const [name, value] of Object.entries({
      client_id: DEMO_CLIENT.client_id, response_type: responseType, response_mode: mode, scope: 'openid', redirect_uri: redirectUri(),
      state: flow.state, nonce: flow.nonce, code_challenge: await oauth.calculatePKCECodeChallenge(flow.verifier), code_challenge_method: 'S256',
    })) url.searchParams.set(name, value)
    res.writeHead(302, { location: url.href, 'set-cookie': `demo_flow=${id}; Path=/; HttpOnly; SameSite=Lax` }).end()
  }

  /** jose against the gateway's published JWKS: the signature, iss, aud, exp, and which key it was. */
  async function verifyWithJose (server: oauth.AuthorizationServer, jwt: string): Promise<{ header: Record<string, unknown>, claims: Record<string, unknown>, key: JWK | undefined }> {
    const jwks = await (await fetch(server.jwks_uri!)).json() as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: server.issuer, audience: DEMO_CLIENT.client_id, algorithms: [DEMO_CLIENT.authorization_signed_response_alg] })
    return { header: protectedHeader as Record<string, unknown>, claims: payload as Record<string, unknown>, key: jwks.keys.find((k) => k.kid === protectedHeader.kid) }
  }

  async function callback (req: IncomingMessage, res: ServerResponse, parameters: URLSearchParams, transport: string): Promise<void> {
    const id = /(?:^|;\s*)demo_flow=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
    const flow = id === undefined ? undefined : pending.get(id)
    const response = parameters.get('response') ?? ''
    let sections = ''
    let verdict: string
    try {
      if (flow === undefined) throw new Error('no flow in progress in this browser (start one from the demo home page)')
      const server = await discover()
      const { header, claims, key } = await verifyWithJose(server, response)
      if (claims['state'] !== flow.state) throw new Error('state does not match the one this browser sent')
      sections = `<div class="grid"><div><h2>Verified JWT header</h2><pre id="header">${json(header)}</pre></div>
<div><h2>Signed by this key of the gateway's JWKS</h2><p>kid <code id="kid">${escape(String(header['kid']))}</code>, alg <code id="alg">${escape(String(header['alg']))}</code></p><pre id="key">${json(key)}</pre></div></div>
<h2>Verified claims</h2><pre id="claims">${json(claims)}</pre>`
      if (typeof claims['error'] === 'string') throw new Error(`the identity server answered ${claims['error']}: ${String(claims['error_description'] ?? '')}`)
      if (flow.responseType === 'code') {
        // The certified check of the whole response, then the code redeemed at the token endpoint.
        const verified = await oauth.validateJwtAuthResponse(server, DEMO_CLIENT, parameters, flow.state, { [oauth.allowInsecureRequests]: true })
        const tokenResponse = await oauth.processAuthorizationCodeResponse(server, DEMO_CLIENT,
          await oauth.authorizationCodeGrantRequest(server, DEMO_CLIENT, oauth.ClientSecretBasic(DEMO_CLIENT_SECRET), verified, redirectUri(), flow.verifier, { [oauth.allowInsecureRequests]: true }),
          { expectedNonce: flow.nonce })
        sections += `<h2>Code redeemed at the token endpoint</h2><pre id="tokens">${json({ token_type: tokenResponse.token_type, expires_in: tokenResponse.expires_in, scope: tokenResponse.scope, id_token_claims: oauth.getValidatedIdTokenClaims(tokenResponse) })}</pre>`
        verdict = `<p class="ok" id="verdict">Verified: signature (${escape(String(header['alg']))}, key ${escape(String(header['kid']))} from the gateway's JWKS), iss, aud, exp and state, by jose and by oauth4webapi; the code was redeemed.</p>`
      } else {
        // oauth4webapi does not do hybrid flows: the id_token in the response is shown decoded.
        sections += `<h2>id_token in the response (decoded)</h2><pre id="id-token">${json(decodeJwt(String(claims['id_token'])))}</pre>`
        verdict = `<p class="ok" id="verdict">Verified by jose: signature (${escape(String(header['alg']))}, key ${escape(String(header['kid']))} from the gateway's JWKS), iss, aud, exp and state. (The code is not redeemed: oauth4webapi does not support hybrid flows.)</p>`
      }
      pending.delete(id!)
    } catch (error) {
      verdict = `<p class="bad" id="verdict">Not accepted: ${escape((error as Error).message)}</p>`
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page('JARM response', `
<h1>JARM response</h1>
<p>response_type <code id="response-type">${escape(flow?.responseType ?? 'unknown')}</code>, response_mode <code id="mode">${escape(flow?.mode ?? 'unknown')}</code>, carried by <code id="transport">${escape(transport)}</code></p>${verdict}
<h2>Raw response parameter</h2><pre id="raw">${escape(response)}</pre>
${sections}
<h2>Start another flow</h2>${flowLinks()}`))
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo')
    const fail = (error: Error): void => { res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message) }
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('jarm-gateway demo', `<h1>jarm-gateway demo</h1>
<p>The identity server (oidc-provider, JARM off) sits behind jarm-gateway at <code>${escape(options.issuer)}</code>. Pick a response type and mode; log in with any name and password.</p>${flowLinks()}`))
    } else if (req.method === 'GET' && url.pathname === '/start') {
      start(res, url.searchParams.get('mode') ?? 'jwt', url.searchParams.get('response_type') ?? 'code').catch(fail)
    } else if (req.method === 'GET' && url.pathname === '/callback' && url.searchParams.has('response')) {
      callback(req, res, url.searchParams, 'query').catch(fail)
    } else if (req.method === 'GET' && url.pathname === '/callback') {
      // fragment.jwt: the response is in the fragment, which only the browser sees; post it here.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Reading the fragment', `<form method="post" action="/callback"><input type="hidden" name="response"><input type="hidden" name="via" value="fragment"></form>
<script>var f=document.forms[0];f.response.value=new URLSearchParams(location.hash.slice(1)).get('response')||'';f.submit()</script>`))
    } else if (req.method === 'POST' && url.pathname === '/callback') {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
        const transport = body.get('via') === 'fragment' ? 'fragment' : 'form_post'
        body.delete('via')
        callback(req, res, body, transport).catch(fail)
      })
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    }
  })
  await new Promise<void>((resolve) => server.listen(options.port, options.host ?? '127.0.0.1', resolve))
  base = `http://${options.host ?? '127.0.0.1'}:${(server.address() as { port: number }).port}`
  return { url: base, server, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }) }
}
