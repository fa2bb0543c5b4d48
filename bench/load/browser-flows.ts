/**
 * A lean browser for the complete-flow comparison (section 3): node:http with a keep-alive agent,
 * a cookie jar per flow, manual redirects, and oidc-provider's devInteractions login and consent
 * forms filled in, until the flow leaves for the client's redirect_uri carrying `response`.
 * Leaner than the tests' BrowserAgent (no fetch, no judging) so that the driver's own CPU takes as
 * little as possible from the servers it measures; the tests judge the same flows for correctness.
 */
import { createHash } from 'node:crypto'
import { Agent, request } from 'node:http'
import { FLOW_CLIENT_ID, FLOW_REDIRECT_URI, CLIENT_STATE } from '../lib/fixtures.js'

const VERIFIER = 'bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz'
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url')
const REDIRECT_ORIGIN = new URL(FLOW_REDIRECT_URI).origin
const MAX_STEPS = 20

interface Answer { status: number, location: string | undefined, text: string }

function send (agent: Agent, url: URL, cookies: Map<string, string>, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/html', 'user-agent': 'jarm-gateway-bench' }
    if (cookies.size > 0) headers['cookie'] = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers['content-length'] = String(Buffer.byteLength(body))
    }
    const req = request(url, { method, headers, agent }, (res) => {
      for (const cookie of res.headers['set-cookie'] ?? []) {
        const pair = cookie.slice(0, cookie.indexOf(';') === -1 ? undefined : cookie.indexOf(';'))
        const at = pair.indexOf('=')
        const name = pair.slice(0, at).trim()
        const value = pair.slice(at + 1).trim()
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(cookie)) cookies.delete(name)
        else cookies.set(name, value)
      }
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The authorization request a client would send (PKCE, state, nonce, query.jwt). */
export function authorizationUrl (issuer: string): URL {
  const url = new URL(`${issuer}/auth`)
  url.search = new URLSearchParams({
    client_id: FLOW_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: FLOW_REDIRECT_URI,
    response_mode: 'query.jwt',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    state: CLIENT_STATE,
    nonce: 'bench-nonce-0123456789',
  }).toString()
  return url
}

/**
 * One complete flow: authorization request, login page, login, consent page, consent, the JARM
 * response. Resolves with the client's callback URL; throws when the flow ends anywhere else.
 */
export async function runFlow (agent: Agent, issuer: string): Promise<URL> {
  const cookies = new Map<string, string>()
  let url = authorizationUrl(issuer)
  let method = 'GET'
  let body: string | undefined
  for (let step = 0; step < MAX_STEPS; step++) {
    const answer = await send(agent, url, cookies, method, body)
    if (answer.status >= 300 && answer.status < 400 && answer.location !== undefined) {
      const next = new URL(answer.location, url)
      if (next.origin === REDIRECT_ORIGIN) {
        if (!next.searchParams.has('response')) throw new Error(`the flow ended without a JARM response (${[...next.searchParams.keys()].join(', ')})`)
        return next
      }
      url = next
      method = 'GET'
      body = undefined
      continue
    }
    const action = /<form[^>]*action="([^"]*)"/.exec(answer.text)?.[1]
    if (answer.status === 200 && action !== undefined && answer.text.includes('name="prompt" value="login"')) {
      url = new URL(action.replace(/&amp;/g, '&'), url)
      method = 'POST'
      body = 'prompt=login&login=alice&password=any'
      continue
    }
    if (answer.status === 200 && action !== undefined && answer.text.includes('name="prompt" value="consent"')) {
      url = new URL(action.replace(/&amp;/g, '&'), url)
      method = 'POST'
      body = 'prompt=consent'
      continue
    }
    throw new Error(`the flow stopped on a ${answer.status} page at step ${step}`)
  }
  throw new Error(`the flow did not end within ${MAX_STEPS} steps`)
}

export interface FlowRun { readonly flows: number, readonly failures: number, readonly seconds: number, readonly firstError: string | undefined }

/** `concurrency` browsers running flows back to back for `seconds`. */
export async function runFlows (issuer: string, concurrency: number, seconds: number): Promise<FlowRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const started = performance.now()
  const deadline = started + seconds * 1000
  let flows = 0
  let failures = 0
  let firstError: string | undefined
  const browser = async (): Promise<void> => {
    while (performance.now() < deadline) {
      try {
        await runFlow(agent, issuer)
        flows++
      } catch (error) {
        failures++
        firstError ??= (error as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, browser))
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  return { flows, failures, seconds: elapsed, firstError }
}
