// request_objects.forward: resigned, in front of a real oidc-provider that itself requires signed
// request objects (JAR on, JARM off) and registers the gateway's public JWKS for the client: the
// client's object is verified by the gateway, re-signed by a gateway key for the legacy issuer, and
// the legacy server accepts it; the JARM response is judged by oauth4webapi. Also the gateway's PAR
// endpoint edges: methods, bodies, refusals as JSON, and refusals at the authorization endpoint
// delivered as JARM errors only where the redirect_uri is vouched for.
import t from 'tap'
import * as oauth from 'oauth4webapi'
import { exportJWK, generateKeyPair } from 'jose'
import { DEFAULT_CLIENTS } from '../../demo/legacy-server.js'
import { startStack, TEST_PUBLIC_JWKS } from '../helpers/stack.js'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { APP1_SECRET } from '../helpers/judge.js'
import { abandonFormBody } from '../helpers/raw-http.js'

const REDIRECT_URI = 'https://client.example.org/cb'
const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true })
const clientJwk = { ...await exportJWK(publicKey), kid: 'client-1', use: 'sig' }
const insecure = { [oauth.allowInsecureRequests]: true } as const
const client: oauth.Client = { client_id: 'app1', authorization_signed_response_alg: 'ES256' }

const stack = await startStack({
  legacy: {
    clients: [{ ...DEFAULT_CLIENTS[0]!, jwks: { keys: TEST_PUBLIC_JWKS.keys.filter((key) => key.kty === 'EC') }, request_object_signing_alg: 'ES256' }],
    configuration: { features: { devInteractions: { enabled: true }, jwtResponseModes: { enabled: false }, requestObjects: { enabled: true, requireSignedRequestObject: true }, pushedAuthorizationRequests: { enabled: false } } },
  },
  config: {
    default_signed_response_alg: 'ES256',
    request_objects: { forward: 'resigned' },
    clients: { app1: { authorization_signed_response_alg: 'ES256', client_secret: APP1_SECRET, jwks: { keys: [clientJwk] }, request_object_signing_alg: 'PS256', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT_URI] } },
  },
})
t.teardown(() => stack.close())
const as = await oauth.processDiscoveryResponse(new URL(stack.issuer), await oauth.discoveryRequest(new URL(stack.issuer), insecure))

/** The object with one character in the middle of its signature changed (the last one may only carry padding bits). */
function forge (jwt: string): string {
  const at = jwt.lastIndexOf('.') + 10
  return jwt.slice(0, at) + (jwt[at] === 'A' ? 'B' : 'A') + jwt.slice(at + 1)
}

async function requestObject (extra: Record<string, string> = {}): Promise<{ request: string, verifier: string }> {
  const verifier = oauth.generateRandomCodeVerifier()
  const params = new URLSearchParams({ response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', response_mode: 'jwt', code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'inside', nonce: 'n-1', ...extra })
  return { request: await oauth.issueRequestObject(as, client, params, { key: privateKey, kid: 'client-1' }), verifier }
}

t.test('the gateway adds PAR and JARM, and re-signs the request object for a legacy server that requires JAR', async (t) => {
  t.equal(as.pushed_authorization_request_endpoint, `${stack.issuer}/jarm-gateway/par`, 'the legacy server has no PAR: the gateway serves it')
  const { request, verifier } = await requestObject()
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({ client_id: 'app1', response_type: 'code', scope: 'openid', request, state: 'outside' }).toString()
  const parameters = callbackParameters(await new BrowserAgent().run(url))
  const callback = await oauth.validateJwtAuthResponse(as, client, new URL(`${REDIRECT_URI}?${parameters.toString()}`), 'inside', insecure)
  t.ok(callback.get('code'), 'the legacy server accepted the re-signed object and answered')
  const tokens = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(APP1_SECRET), callback, REDIRECT_URI, verifier, insecure)
  t.equal(tokens.status, 200, 'the code is redeemed')
})

t.test('the gateway\'s PAR endpoint: POST of a form only, JSON answers', async (t) => {
  const endpoint = as.pushed_authorization_request_endpoint!
  const get = await fetch(endpoint)
  t.equal(get.status, 405)
  t.equal(get.headers.get('allow'), 'POST')
  const json = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(json.status, 415)
  t.match(await json.json(), { error: 'invalid_request' })
  const basic = `Basic ${Buffer.from(`app1:${APP1_SECRET}`).toString('base64')}`
  const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }
  const wrongSecret = await fetch(endpoint, { method: 'POST', headers: { ...form, authorization: `Basic ${Buffer.from('app1:nope').toString('base64')}` }, body: 'response_type=code' })
  t.equal(wrongSecret.status, 401)
  t.match(wrongSecret.headers.get('www-authenticate'), /^Basic realm=/)
  const unsigned = await fetch(endpoint, { method: 'POST', headers: form, body: new URLSearchParams({ response_type: 'code', redirect_uri: REDIRECT_URI, response_mode: 'jwt', scope: 'openid' }).toString() })
  t.equal(unsigned.status, 201, 'a plain pushed request of a client that does not require signed ones')
  const forged = await fetch(endpoint, { method: 'POST', headers: form, body: new URLSearchParams({ request: forge((await requestObject()).request) }).toString() })
  t.equal(forged.status, 400)
  t.match(await forged.json(), { error: 'invalid_request_object' }, 'a refusal at PAR is JSON, never a redirect, even to a vouched redirect_uri')
  const withUri = await fetch(endpoint, { method: 'POST', headers: form, body: 'request_uri=urn:x&response_type=code' })
  t.match(await withUri.json(), { error: 'invalid_request' })
  await abandonFormBody(stack.gatewayUrl, new URL(endpoint).pathname)
  t.ok(stack.logs.some((line) => line['code'] === 'request_aborted'), 'a push its client abandons mid-body: noted, nothing sealed')
})

t.test('refusals at the authorization endpoint: a JARM error to a vouched redirect_uri, a page otherwise', async (t) => {
  const { request } = await requestObject()
  const forged = forge(request)
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({ client_id: 'app1', request: forged }).toString()
  const arrival = await new BrowserAgent().run(url)
  const parameters = callbackParameters(arrival)
  const error = await oauth.validateJwtAuthResponse(as, client, new URL(`${REDIRECT_URI}?${parameters.toString()}`), 'inside', insecure).catch((caught: unknown) => caught)
  t.match(error, { error: 'invalid_request_object' }, 'redirect_uris vouches for it: a signed JARM error')
  const other = new URL(as.authorization_endpoint!)
  const { request: elsewhere } = await requestObject({ redirect_uri: 'https://elsewhere.example/cb' })
  other.search = new URLSearchParams({ client_id: 'app1', request: forge(elsewhere) }).toString()
  const page = await new BrowserAgent().run(other)
  t.match(page, { kind: 'page', status: 400 }, 'an unverified redirect_uri gets a page')
})
