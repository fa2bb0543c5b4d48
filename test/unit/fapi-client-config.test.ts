// The issue 14 settings as the loader reads them: each client's request object, PAR and
// authentication metadata (RFC 7591, RFC 9101 §10.5, RFC 9126 §6, RFC 8705 §2.1.2), the gateway's
// encryption keys for request objects, and the server-level request_objects, pushed_authorization_requests
// and replay_store sections, with every problem named by its path.
import t from 'tap'
import { exportJWK, generateKeyPair } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { RemoteClientKeys } from '../../src/keys/client-keys.js'
import { problemsOf } from '../helpers/config-problems.js'

const upstream = { url: 'http://127.0.0.1:9000' }
const state = { secrets: ['a-state-secret-for-the-fapi-config-test-0123'] }
const SECRET = 'a-client-secret-long-enough-for-hs256-0123456789'
const { publicKey } = await generateKeyPair('PS256')
const jwk = { ...await exportJWK(publicKey), kid: 'sig-1' }

t.test('defaults: nothing required, parameters forwarded, PAR auto, memory replay store', async (t) => {
  const config = await buildConfig({ upstream, state, clients: { app1: {} } }, '.')
  t.same(config.requestObjects, { forward: 'parameters', resignedLifetimeSeconds: 60, clockToleranceSeconds: 15 })
  t.same(config.pushedAuthorizationRequests, { serve: 'auto', ttlSeconds: 60 })
  t.same(config.replayStore, { url: undefined, commandTimeoutMs: 1000 })
  const client = config.clients.get('app1')!
  t.equal(client.requireSignedRequestObject, false)
  t.equal(client.requirePushedAuthorizationRequests, false)
  t.equal(client.responseModes, undefined)
  t.equal(client.verificationKeys, undefined, 'no keys: its request objects cannot be verified')
  t.equal(client.tlsClientAuth, undefined)
})

t.test('a FAPI client: its keys verify, its policy and authentication are read', async (t) => {
  const config = await buildConfig({
    upstream,
    state,
    request_objects: { forward: 'resigned', resigned_lifetime_seconds: 30, clock_tolerance_seconds: 5 },
    pushed_authorization_requests: { serve: 'gateway', ttl_seconds: 90 },
    replay_store: { url: 'redis://gw:pw@127.0.0.1:6379/0', command_timeout_ms: 250 },
    clients: {
      fapi: { jwks: { keys: [jwk] }, request_object_signing_alg: 'PS256', require_signed_request_object: true, require_pushed_authorization_requests: true, token_endpoint_auth_method: 'private_key_jwt', response_modes: ['jwt', 'query.jwt'] },
      remote: { jwks_uri: 'https://client.example/jwks', token_endpoint_auth_method: 'private_key_jwt' },
      basic: { client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' },
    },
  }, '.')
  t.same(config.requestObjects, { forward: 'resigned', resignedLifetimeSeconds: 30, clockToleranceSeconds: 5 })
  t.same(config.pushedAuthorizationRequests, { serve: 'gateway', ttlSeconds: 90 })
  t.same(config.replayStore, { url: 'redis://gw:pw@127.0.0.1:6379/0', commandTimeoutMs: 250 })
  const fapi = config.clients.get('fapi')!
  t.match(fapi, { requestObjectSigningAlg: 'PS256', requireSignedRequestObject: true, requirePushedAuthorizationRequests: true, tokenEndpointAuthMethod: 'private_key_jwt' })
  t.same([...fapi.responseModes!], ['jwt', 'query.jwt'])
  t.equal((await fapi.verificationKeys!.verificationKeys('PS256', 'sig-1')).length, 1, 'the inline key verifies PS256 under its kid')
  t.equal((await fapi.verificationKeys!.verificationKeys('PS256', 'other')).length, 0)
  t.ok(config.clients.get('remote')!.verificationKeys instanceof RemoteClientKeys, 'a jwks_uri is fetched when needed')
  t.equal(config.clients.get('basic')!.tokenEndpointAuthMethod, 'client_secret_basic')
})

t.test('what each authentication method needs, with the problem\'s path', async (t) => {
  t.same(await problemsOf({ upstream, state, clients: { a: { token_endpoint_auth_method: 'client_secret_post' } } }), ['clients.a.client_secret: is required for token_endpoint_auth_method client_secret_post'])
  t.same(await problemsOf({ upstream, state, clients: { a: { token_endpoint_auth_method: 'private_key_jwt' } } }), ['clients.a.jwks: a jwks or jwks_uri with the client\'s public signature key is required for token_endpoint_auth_method private_key_jwt'])
  t.same(await problemsOf({ upstream, state, clients: { a: { token_endpoint_auth_method: 'client_secret_basic', client_secret: SECRET, tls_client_auth_san_dns: 'client.example' } } }), ['clients.a.tls_client_auth_san_dns: is only used with token_endpoint_auth_method tls_client_auth'])
  t.same(await problemsOf({ upstream, state, clients: { a: { token_endpoint_auth_method: 'tls_client_auth' } } }), [
    'clients.a.token_endpoint_auth_method: tls_client_auth needs exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email (RFC 8705 §2.1.2)',
    'clients.a.token_endpoint_auth_method: tls_client_auth needs listen.tls with client_certificates optional or required',
  ])
  t.same(await problemsOf({ upstream, state, issuers: [{ issuer: 'https://id.example/r', clients: { b: { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'x', tls_client_auth_san_uri: 'https://x' } } }] }), [
    'issuers[0].clients.b.token_endpoint_auth_method: tls_client_auth needs exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email (RFC 8705 §2.1.2)',
    'issuers[0].clients.b.token_endpoint_auth_method: tls_client_auth needs listen.tls with client_certificates optional or required',
  ], 'per issuer too')
  t.same(await problemsOf({ upstream, state, clients: { a: { jwks: { keys: [{ ...jwk, d: 'private' }] } } } }), ['clients.a.jwks.keys[0].d: a client\'s private key must never be configured; give its public key only'], 'a JWKS used only for signatures is checked too')
  t.same(await problemsOf({ upstream, state, replay_store: { url: 'http://127.0.0.1:6379' } }), ['replay_store.url: must match pattern "^rediss?://"'])
  t.same(await problemsOf({ upstream, state, pushed_authorization_requests: { ttl_seconds: 601 } }), ['pushed_authorization_requests.ttl_seconds: must be <= 600'])
  t.same(await problemsOf({ upstream, state, clients: { a: { response_modes: ['query', 'bogus'] } } }), ['clients.a.response_modes[1]: must be one of "query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"'])
})

t.test('tls_client_auth with one certificate field: read as that field', async (t) => {
  const config = await buildConfig({
    upstream,
    state,
    listen: { tls: { cert_file: 'x', key_file: 'y', client_ca_file: 'z', client_certificates: 'optional' } },
    clients: { m: { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=client' } },
  }, '.').catch((error: { problems?: string[] }) => error)
  // The TLS files do not exist here: only their own problems are reported, none of the client's.
  t.notOk((config as { problems?: string[] }).problems?.some((problem) => problem.startsWith('clients.m')), 'the client\'s registration is sound')
})

t.test('gateway keys with use enc decrypt request objects and are published, never sign', async (t) => {
  const signing = await generatePrivateJwk('ES256')
  const { privateKey } = await generateKeyPair('RSA-OAEP-256', { extractable: true, modulusLength: 2048 })
  const enc = { ...await exportJWK(privateKey), kid: 'enc-1', use: 'enc', alg: 'RSA-OAEP-256' }
  const config = await buildConfig({ upstream, state, default_signed_response_alg: 'ES256', keys: { keys: [signing, enc] } }, '.')
  t.same(config.keyRing.decryptionKeys.map((key) => key.kid), ['enc-1'])
  t.same(config.keyRing.requestObjectEncryptionAlgs, ['RSA-OAEP-256'])
  t.same(config.keyRing.algorithms, ['ES256'], 'it never signs')
  t.ok(config.keyRing.publicJwks.some((key) => key.kid === 'enc-1' && key.use === 'enc' && !('d' in key)), 'its public half is published')
  const own = await buildConfig({ upstream, state, default_signed_response_alg: 'ES256', issuers: [{ issuer: 'https://id.example/r', keys: { keys: [signing, enc] } }] }, '.')
  t.same(own.issuers[0]!.keyRing.decryptionKeys.map((key) => key.kid), ['enc-1'], 'an issuer\'s own keys too')
})
