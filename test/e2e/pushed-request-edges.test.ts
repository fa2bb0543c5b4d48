// The edges of the PAR endpoints, against a real oidc-provider (its own PAR on) with the gateway
// serving PAR too: bodies the gateway's endpoint refuses (no type, a content coding, too large),
// a pushed request made of an object that is about to expire, a refusal on the legacy server's PAR
// path (JSON, never a redirect), a verified object asking for no JWT mode (its parameters go on
// plain), a body too large on a path no issuer owns, and a reload that replaces the replay store.
import t from 'tap'
import * as oauth from 'oauth4webapi'
import { exportJWK, generateKeyPair } from 'jose'
import { gzipSync } from 'node:zlib'
import { buildConfig } from '../../src/config/load-config.js'
import { startStack, STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { APP1_SECRET } from '../helpers/judge.js'
import { rawRequest } from '../helpers/raw-http.js'

const REDIRECT_URI = 'https://client.example.org/cb'
const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
const clientJwk = { ...await exportJWK(publicKey), kid: 'edge-1' }
const insecure = { [oauth.allowInsecureRequests]: true } as const
const settings = {
  pushed_authorization_requests: { serve: 'gateway' },
  limits: { authorization_request_bytes: 2048 },
  clients: { app1: { authorization_signed_response_alg: 'ES256', client_secret: APP1_SECRET, jwks: { keys: [clientJwk] }, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT_URI] } },
}
const stack = await startStack({ config: settings })
t.teardown(() => stack.close())
const as = await oauth.processDiscoveryResponse(new URL(stack.issuer), await oauth.discoveryRequest(new URL(stack.issuer), insecure))
const gatewayPar = `${stack.issuer}/jarm-gateway/par`
// The legacy server's own PAR endpoint, reached through the gateway (the gateway publishes its own instead).
const legacyPar = `${stack.issuer}${new URL(String((await (await fetch(`${stack.legacy.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>)['pushed_authorization_request_endpoint'])).pathname}`
const basic = `Basic ${Buffer.from(`app1:${APP1_SECRET}`).toString('base64')}`
const now = (): number => Math.floor(Date.now() / 1000)
const sign = async (claims: Record<string, unknown>): Promise<string> => {
  const { SignJWT } = await import('jose')
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'edge-1', typ: 'oauth-authz-req+jwt' }).sign(privateKey)
}
const objectClaims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ iss: 'app1', aud: stack.issuer, client_id: 'app1', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state: 's-1', nbf: now(), exp: now() + 300, ...extra })

t.test('bodies the gateway\'s PAR endpoint refuses', async (t) => {
  const untyped = 'response_type=code'
  const plain = await rawRequest(gatewayPar, `POST /jarm-gateway/par HTTP/1.1\r\nHost: ${new URL(gatewayPar).host}\r\nAuthorization: ${basic}\r\nContent-Length: ${untyped.length}\r\nConnection: close\r\n\r\n${untyped}`)
  t.equal(plain.status, 415, 'no content type at all')
  const gzip = await fetch(gatewayPar, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body: gzipSync('response_type=code') })
  t.equal(gzip.status, 415, 'a content coding')
  const identity = await fetch(gatewayPar, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'identity' }, body: new URLSearchParams({ response_type: 'code', redirect_uri: REDIRECT_URI }).toString() })
  t.equal(identity.status, 201, 'identity is no coding')
  const large = await fetch(gatewayPar, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: `response_type=code&x=${'a'.repeat(4096)}` })
  t.equal(large.status, 413)
  t.match(await large.json(), { error: 'invalid_request' })
})

t.test('a request object at the end of its life cannot make a pushed request that outlives it', async (t) => {
  // Within the clock tolerance the object itself still verifies, but nothing is left of it to push.
  const dying = await sign(objectClaims({ nbf: now() - 60, exp: now() - 2 }))
  const refused = await fetch(gatewayPar, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ request: dying }).toString() })
  t.equal(refused.status, 400)
  t.match(await refused.json(), { error: 'invalid_request_object', error_description: /expires before its pushed request could be used/ })
  const short = await fetch(gatewayPar, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ request: await sign(objectClaims({ exp: now() + 20 })) }).toString() })
  t.ok(((await short.json()) as { expires_in: number }).expires_in <= 20, 'expires_in is what is left of the object')
})

t.test('a refusal at the legacy server\'s PAR path is JSON, even to a redirect_uri the config lists', async (t) => {
  const refused = await fetch(legacyPar, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: 'app1', response_type: 'code token', redirect_uri: REDIRECT_URI, response_mode: 'query.jwt', scope: 'openid' }).toString() })
  t.equal(refused.status, 400)
  t.match(await refused.json(), { error: 'invalid_request', error_description: /query\.jwt cannot carry the tokens/ })
})

t.test('a verified request object asking for no JWT mode: its parameters go on plain, the outer ones dropped', async (t) => {
  const request = await sign(objectClaims({ response_mode: 'query' }))
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({ client_id: 'app1', request, prompt: 'none', state: 'outside' }).toString()
  const arrival = await new BrowserAgent().run(url)
  t.equal(arrival.kind, 'redirect')
  if (arrival.kind !== 'redirect') return
  t.equal(arrival.url.searchParams.get('state'), 's-1', 'the legacy server answered the object\'s request, its state')
  t.notOk(arrival.url.searchParams.has('response'), 'a plain mode: no JWT')
})

t.test('a reload with other replay store settings replaces the store; the old one is closed with the gateway', async (t) => {
  const gateway = stack.gateways[0]!.gateway
  const before = gateway.replayStore
  gateway.reload(await buildConfig({ upstream: { url: stack.legacy.url }, keys: TEST_KEYS, state: { secrets: [STATE_SECRET] }, ...settings, replay_store: { command_timeout_ms: 500 } }, process.cwd()))
  t.not(gateway.replayStore, before)
  gateway.reload(await buildConfig({ upstream: { url: stack.legacy.url }, keys: TEST_KEYS, state: { secrets: [STATE_SECRET] }, ...settings, replay_store: { command_timeout_ms: 500 } }, process.cwd()))
  t.equal(gateway.replayStore.healthy, true, 'the same settings keep it')
})
