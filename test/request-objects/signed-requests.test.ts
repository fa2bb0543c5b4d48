// JAR and PAR for one issuer as the pipeline asks for them (src/authorization-request/signed-requests.ts):
// where the gateway's PAR endpoint is, which gateway key re-signs, what a client authenticates with,
// and what the PAR endpoint refuses before it seals. Built from real configurations.
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { expansionContext, forwardedParameters, gatewayParLocation, pushedRequestEndpoint, type SignedRequestContext } from '../../src/authorization-request/signed-requests.js'
import { buildConfig } from '../../src/config/load-config.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { IssuerRegistry } from '../../src/issuers/issuer-registry.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import type { UpstreamMetadata } from '../../src/metadata/upstream-metadata.js'
import { PushedRequestSealer } from '../../src/pushed-requests/pushed-request-uri.js'
import { servePushedRequest } from '../../src/pushed-requests/serve-pushed-request.js'
import { MemoryReplayStore } from '../../src/replay/memory-replay-store.js'
import { clientKeyPair, goodClaims, signedObject, CLIENT_SECRET } from '../helpers/request-objects.js'
import { createTestPki } from '../helpers/test-pki.js'

const ISSUER = 'https://id.example.com'
const SECRETS = ['a-state-secret-for-the-signed-requests-test-0123']
const metadata = (extra: Partial<UpstreamMetadata> = {}): UpstreamMetadata => ({ issuer: ISSUER, document: {}, authorizationEndpointPath: '/auth', jwksPath: '/jwks', nonFlowPaths: [], issuerMismatch: undefined, ...extra })
const es256 = await generatePrivateJwk('ES256')
const ps256 = await generatePrivateJwk('PS256')

async function contextFor (settings: Record<string, unknown>, known: UpstreamMetadata = metadata()): Promise<SignedRequestContext> {
  const config = await buildConfig({ upstream: { url: 'http://127.0.0.1:9' }, state: { secrets: SECRETS }, default_signed_response_alg: 'ES256', keys: { keys: [es256, ps256] }, ...settings }, process.cwd())
  const issuer = new IssuerRegistry(config, { onRefreshError: () => {}, now: Date.now }).listed[0]!
  return { config, issuer, metadata: known, replayStore: new MemoryReplayStore(), pushedSealer: new PushedRequestSealer(SECRETS), flowSealer: new FlowStateSealer(SECRETS, 600), now: Date.now }
}

t.test('where the gateway serves PAR: gateway always, auto without a legacy PAR endpoint, never upstream', async (t) => {
  t.same(gatewayParLocation((await contextFor({ pushed_authorization_requests: { serve: 'gateway' } })).config, metadata({ pushedAuthorizationRequestPath: '/par', issuer: `${ISSUER}/realms/a/` })), { path: '/realms/a/jarm-gateway/par', uri: `${ISSUER}/realms/a/jarm-gateway/par` })
  t.equal(gatewayParLocation((await contextFor({})).config, metadata({ pushedAuthorizationRequestPath: '/par' })), undefined, 'auto: the legacy server\'s')
  t.same(gatewayParLocation((await contextFor({})).config, metadata())?.path, '/jarm-gateway/par', 'auto without one: the gateway\'s')
  t.equal(gatewayParLocation((await contextFor({ pushed_authorization_requests: { serve: 'upstream' } })).config, metadata()), undefined)
})

t.test('re-signed forwarding: the key of the client\'s registered algorithm where the gateway has one, else the default', async (t) => {
  const parameters = [['client_id', 'ps'], ['response_type', 'code'], ['scope', 'openid'], ['redirect_uri', 'https://c.example/cb'], ['state', 'sealed']] as const
  const context = await contextFor({ request_objects: { forward: 'resigned' }, clients: { ps: { request_object_signing_alg: 'PS256' }, hs: { request_object_signing_alg: 'HS256', client_secret: CLIENT_SECRET }, plain: {} } })
  const forwarded = forwardedParameters(context, parameters)
  t.same(forwarded.map(([name]) => name), ['client_id', 'response_type', 'scope', 'request'], 'OpenID Connect\'s outer parameters beside the object')
  const request = forwarded.at(-1)![1]
  t.match(decodeProtectedHeader(request), { alg: 'PS256', kid: ps256.kid, typ: 'oauth-authz-req+jwt' })
  t.match(decodeJwt(request), { iss: 'ps', aud: ISSUER, state: 'sealed', redirect_uri: 'https://c.example/cb' })
  for (const clientId of ['hs', 'plain', 'unlisted']) {
    const other = forwardedParameters(context, [['client_id', clientId], ['response_type', 'code']]).at(-1)![1]
    t.equal(decodeProtectedHeader(other).alg, 'ES256', `${clientId}: default_signed_response_alg`)
  }
  t.same(forwardedParameters(await contextFor({}), parameters), parameters, 'forward: parameters')
})

t.test('a client the config verifies by its secret alone: an asymmetric object finds no key', async (t) => {
  const context = await contextFor({ clients: { hs: { client_secret: CLIENT_SECRET } } })
  const { privateKey } = await clientKeyPair('ES256')
  const jwt = await signedObject({ ...goodClaims(), iss: 'hs', client_id: 'hs', aud: ISSUER }, privateKey, { alg: 'ES256' })
  await t.rejects(expansionContext(context, 'front').verifyRequestObject(jwt, 'hs'), { code: 'invalid_request_object' })
})

t.test('the PAR endpoint: who authenticates how, and what it refuses before sealing', async (t) => {
  const pki = createTestPki()
  t.teardown(() => pki.remove())
  const ca = pki.authority('clients')
  const server = ca.issue('gateway', { dns: ['localhost'] })
  const context = await contextFor({
    listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: ca.certFile, client_certificates: 'optional' } },
    clients: {
      basic: { client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['https://c.example/cb'] },
      mtls: { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'client.example' },
      none: {},
    },
  })
  const endpoint = pushedRequestEndpoint(context)
  const basic = `Basic ${Buffer.from(`basic:${CLIENT_SECRET}`).toString('base64')}`
  const push = (parameters: Array<[string, string]>, by: { authorization?: string, clientCertificate?: X509Certificate } = { authorization: basic }): Promise<unknown> =>
    servePushedRequest({ authorization: by.authorization, parameters, clientCertificate: by.clientCertificate }, endpoint)
  t.match(await push([['response_type', 'code'], ['redirect_uri', 'https://c.example/cb'], ['response_mode', 'jwt']]), { status: 201 })
  await t.rejects(push([['client_id', 'other'], ['response_type', 'code']]), { code: 'invalid_client', message: /not the client that authenticated/ })
  await t.rejects(push([['response_type', 'code token'], ['redirect_uri', 'https://c.example/cb'], ['response_mode', 'query.jwt']]), { code: 'response_mode_not_allowed' }, 'what the authorization endpoint would refuse, even to a vouched redirect_uri, is refused here')
  await t.rejects(push([['client_id', 'none'], ['client_secret', CLIENT_SECRET], ['response_type', 'code']], {}), { code: 'invalid_client' }, 'a client without token_endpoint_auth_method cannot push to the gateway')
  const certificate = new X509Certificate(ca.issue('mtls', { dns: ['client.example'], usage: 'client' }).cert)
  t.match(await push([['client_id', 'mtls'], ['response_type', 'code'], ['redirect_uri', 'https://c.example/cb']], { clientCertificate: certificate }), { status: 201 }, 'tls_client_auth by its registered SAN')
})
