// A legacy server whose discovery has no jwks_uri (RFC 8414 allows it): the gateway serves its own
// JWKS under the issuer's path, publishes it as jwks_uri on the issuer's origin (never the request's
// Host), and a JARM response verifies through it with oauth4webapi; after a reload the retired key
// is still served there.
import t from 'tap'
import { request as httpRequest } from 'node:http'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { authorizationUrl, CLIENT_STATE, REDIRECT_URI, startFakeStack, type FakeStack } from '../helpers/fake-legacy-server.js'
import { APP1, discover, judge } from '../helpers/judge.js'
import { STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'

const GATEWAY_JWKS = '/.well-known/jarm-gateway-jwks.json'

/** The fake legacy server without jwks_uri in its discovery; its authorization endpoint answers with a code. */
async function withoutJwksUri (config: Record<string, unknown> = {}, now?: () => number): Promise<FakeStack> {
  return startFakeStack({
    config,
    ...(now !== undefined ? { now } : {}),
    discovery: (json, res) => {
      const { jwks_uri: _dropped, ...document } = JSON.parse(json) as Record<string, unknown>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document))
      return true
    },
    handler: (request, res) => {
      if (request.path !== '/authorize') return void res.writeHead(404).end('not found')
      const location = new URL(request.params.get('redirect_uri')!)
      location.searchParams.set('code', 'the-code')
      location.searchParams.set('state', request.params.get('state')!)
      res.writeHead(302, { location: location.href }).end()
    },
  })
}

/** A flow's JARM response (query.jwt), as the client receives it. */
async function responseOf (stack: FakeStack): Promise<URLSearchParams> {
  const answer = await fetch(authorizationUrl(stack), { redirect: 'manual' })
  await answer.arrayBuffer()
  const location = new URL(answer.headers.get('location')!)
  if (location.origin + location.pathname !== REDIRECT_URI) throw new Error(`the flow ended at ${location.href}`)
  return location.searchParams
}

t.test('the gateway publishes and serves its own JWKS; oauth4webapi verifies a response through it', async (t) => {
  const stack = await withoutJwksUri()
  t.teardown(() => stack.close())
  const as = await discover(stack.gatewayUrl)
  t.equal(as.jwks_uri, `${stack.gatewayUrl}${GATEWAY_JWKS}`)
  const parameters = await responseOf(stack)
  const callback = await judge(as, APP1, parameters, CLIENT_STATE)
  t.equal(callback.get('code'), 'the-code', 'judged by oauth4webapi with the keys at the published jwks_uri')

  const jwks = await fetch(as.jwks_uri!)
  t.equal(jwks.status, 200)
  t.equal(jwks.headers.get('content-type'), 'application/jwk-set+json')
  const { keys } = await jwks.json() as { keys: Array<Record<string, unknown>> }
  t.same(keys.map((key) => key['kid']), TEST_KEYS.keys.map((key) => key.kid), 'every signing key, public')
  t.ok(keys.every((key) => key['d'] === undefined && key['use'] === 'sig'), 'no private part')
  const head = await fetch(as.jwks_uri!, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(await head.text(), '')
  t.notOk(stack.received.some((request) => request.path === GATEWAY_JWKS), 'the legacy server never sees the path')
})

t.test('jwks_uri is built from the issuer, never from the Host the request carries', async (t) => {
  const stack = await withoutJwksUri({ issuer: 'https://id.example.com/realms/main', upstream: { discovery_path: '/.well-known/openid-configuration' } })
  t.teardown(() => stack.close())
  const port = new URL(stack.gatewayUrl).port
  const document = await new Promise<Record<string, unknown>>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/.well-known/openid-configuration', headers: { host: 'attacker.example', 'x-forwarded-host': 'attacker.example' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>))
    }).on('error', reject).end()
  })
  t.equal(document['issuer'], 'https://id.example.com/realms/main')
  t.equal(document['jwks_uri'], `https://id.example.com/realms/main${GATEWAY_JWKS}`)
  const served = await fetch(`${stack.gatewayUrl}/realms/main${GATEWAY_JWKS}`)
  t.equal(served.status, 200, 'served at the issuer\'s path')
  t.equal((await served.json() as { keys: unknown[] }).keys.length, TEST_KEYS.keys.length)
  const elsewhere = await fetch(`${stack.gatewayUrl}${GATEWAY_JWKS}`)
  t.equal(elsewhere.status, 404, 'not at the root: that path is the legacy server\'s')
  await elsewhere.arrayBuffer()
})

t.test('after a reload the retired key is still served there, so a response signed before it verifies', async (t) => {
  let clockOffsetMs = 0
  const stack = await withoutJwksUri({}, () => Date.now() + clockOffsetMs)
  t.teardown(() => stack.close())
  const before = (await responseOf(stack)).get('response')!
  const newKey = await generatePrivateJwk('ES256')
  stack.gateway.gateway.reload(await buildConfig({
    upstream: { url: stack.upstreamUrl }, keys: { keys: [newKey] }, state: { secrets: [STATE_SECRET] },
    clients: { app1: { authorization_signed_response_alg: 'ES256' } }, default_signed_response_alg: 'ES256',
  }, process.cwd()))
  const after = (await responseOf(stack)).get('response')!
  t.equal(decodeProtectedHeader(after).kid, newKey.kid)
  const jwksUri = new URL(`${stack.gatewayUrl}${GATEWAY_JWKS}`)
  const options = { issuer: stack.gatewayUrl, audience: 'app1' }
  t.ok(await jwtVerify(before, createRemoteJWKSet(jwksUri), options), 'signed before the reload, verified after it')
  t.ok(await jwtVerify(after, createRemoteJWKSet(jwksUri), options))
  clockOffsetMs = 10 * 60 * 1000
  const { keys } = await (await fetch(jwksUri)).json() as { keys: Array<{ kid: string }> }
  t.same(keys.map((key) => key.kid), [newKey.kid], 'the retired keys go once their responses have expired')
})
