import t from 'tap'
import { createServer as createHttpsServer } from 'node:https'
import { createServer } from 'node:http'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { gatewayJwksAnswer, isDiscoveryPath, isGatewayJwksRequest, publishDiscovery, publishJwks } from '../../src/metadata/published-metadata.js'
import { discoveryPaths, MetadataCache, METADATA_REFRESH_MS, readMetadata } from '../../src/metadata/upstream-metadata.js'
import { getFromUpstream } from '../../src/http/upstream-request.js'

const source = { upstreamUrl: 'http://127.0.0.1:1', timeoutMs: 500, maxBytes: 4096 }

t.test('where discovery is looked for', async (t) => {
  t.same(discoveryPaths(undefined), ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'])
  t.same(discoveryPaths('https://id.example.com/'), ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'])
  t.same(discoveryPaths('https://id.example.com/realms/main/'), ['/realms/main/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/realms/main', '/.well-known/openid-configuration/realms/main'])
  for (const path of ['/.well-known/openid-configuration', '/realms/x/.well-known/openid-configuration', '/.well-known/openid-configuration/realms/x', '/.well-known/oauth-authorization-server/oauth2/token']) t.ok(isDiscoveryPath(path), path)
  for (const path of ['/', '/.well-known/jwks.json', '/openid-configuration']) t.notOk(isDiscoveryPath(path), path)
})

t.test('reading a discovery document', async (t) => {
  const document = { issuer: 'https://id.example', authorization_endpoint: 'https://id.example/oauth2/authorize?x=1', jwks_uri: 'https://id.example/keys' }
  t.same(readMetadata(document, source), { issuer: 'https://id.example', document, authorizationEndpointPath: '/oauth2/authorize', jwksPath: '/keys', pushedAuthorizationRequestPath: undefined, nonFlowPaths: ['/keys'], issuerMismatch: undefined })
  t.same(readMetadata({ ...document, token_endpoint: 'https://id.example/token', end_session_endpoint: 'https://id.example/oauth2/authorize' }, source).nonFlowPaths, ['/token', '/keys'], 'every endpoint outside the flow, never the authorization endpoint itself')
  const configured = readMetadata({ ...document, jwks_uri: 42 }, { ...source, issuer: 'https://public.example', authorizationEndpoint: '/custom' })
  t.equal(configured.issuer, 'https://public.example')
  t.equal(configured.authorizationEndpointPath, '/custom')
  t.equal(configured.jwksPath, undefined)
  t.equal(configured.issuerMismatch, "the configured issuer https://public.example differs from the legacy server's https://id.example")
  t.throws(() => readMetadata({ authorization_endpoint: 'https://x/a' }, source), /no issuer or authorization_endpoint/)
  t.throws(() => readMetadata({ issuer: 'x', authorization_endpoint: 'not a url' }, source), /no issuer or authorization_endpoint/)
})

t.test('what clients are served', async (t) => {
  const published = publishDiscovery({ issuer: 'https://legacy', response_modes_supported: ['query', 'form_post', 'jwt'] }, { issuer: 'https://public', responseModes: ['query.jwt', 'jwt'], signingAlgs: ['ES256'] })
  t.same(published, { issuer: 'https://public', response_modes_supported: ['query', 'form_post', 'jwt', 'query.jwt'], authorization_signing_alg_values_supported: ['ES256'] })
  t.same(publishDiscovery({ issuer: 'https://legacy' }, { issuer: undefined, responseModes: ['jwt'], signingAlgs: [] }).response_modes_supported, ['query', 'fragment', 'jwt'], 'RFC 8414 default when the server lists none')
  const fapi = publishDiscovery({ issuer: 'https://legacy', pushed_authorization_request_endpoint: 'https://legacy/par' }, {
    issuer: 'https://public', responseModes: ['jwt'], signingAlgs: ['PS256'],
    requestObjects: { signingAlgs: ['PS256', 'ES256'], encryptionAlgs: ['RSA-OAEP-256'], encryptionEncs: ['A256GCM'] },
    pushedAuthorizationRequestEndpoint: 'https://public/jarm-gateway/par',
    requirePushedAuthorizationRequests: true,
  })
  t.match(fapi, {
    request_parameter_supported: true,
    request_object_signing_alg_values_supported: ['PS256', 'ES256'],
    request_object_encryption_alg_values_supported: ['RSA-OAEP-256'],
    request_object_encryption_enc_values_supported: ['A256GCM'],
    pushed_authorization_request_endpoint: 'https://public/jarm-gateway/par',
    require_pushed_authorization_requests: true,
  }, 'JAR and PAR the gateway adds (RFC 9101 §10.1, RFC 9126 §5)')
  const plainObjects = publishDiscovery({ issuer: 'https://legacy', pushed_authorization_request_endpoint: 'https://legacy/par' }, {
    issuer: undefined, responseModes: [], signingAlgs: [], requestObjects: { signingAlgs: ['PS256'], encryptionAlgs: [], encryptionEncs: [] }, requirePushedAuthorizationRequests: false,
  })
  t.notOk('request_object_encryption_alg_values_supported' in plainObjects, 'no encryption key: no encryption algorithms')
  t.equal(plainObjects['pushed_authorization_request_endpoint'], 'https://legacy/par', 'the legacy server\'s own PAR stays')
  t.notOk('require_pushed_authorization_requests' in plainObjects)
  t.same(publishJwks({ keys: [{ kty: 'RSA', kid: 'a' }] }, [{ kty: 'EC', kid: 'b' }]), { document: { keys: [{ kty: 'RSA', kid: 'a' }, { kty: 'EC', kid: 'b' }] }, collisions: [] })
  t.same(publishJwks({ other: 1 }, [{ kty: 'EC', kid: 'b' }]).document, { other: 1, keys: [{ kty: 'EC', kid: 'b' }] })
  t.same(publishJwks({ keys: [{ kty: 'RSA' }, { kty: 'EC', kid: 'b' }] }, [{ kty: 'EC', kid: 'b' }]).collisions, ['b'])
})

t.test('the metadata cache: single flight, background refresh, old document kept on failure', async (t) => {
  let served = 0
  let status = 200
  const server = createServer((req, res) => {
    served++
    if (req.url === '/missing/.well-known/openid-configuration') return void res.writeHead(404).end()
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: `https://id.example/v${served}`, authorization_endpoint: 'https://id.example/auth' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let now = 1_000_000
  const errors: Error[] = []
  const cache = new MetadataCache({ ...source, upstreamUrl }, (error) => errors.push(error), () => now)
  const [a, b] = await Promise.all([cache.get(), cache.get()])
  t.equal(a, b)
  t.equal(served, 1, 'one fetch for concurrent first requests')
  t.equal(await cache.get(), a, 'cached')
  now += METADATA_REFRESH_MS + 1
  t.equal(await cache.get(), a, 'the old one is served while refreshing')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal((await cache.get()).issuer, 'https://id.example/v2', 'refreshed in the background')
  status = 500
  now += METADATA_REFRESH_MS + 1
  t.equal((await cache.get()).issuer, 'https://id.example/v2')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.match(errors[0]?.message, /HTTP 500/, 'the failed refresh is reported')
  t.equal((await cache.get()).issuer, 'https://id.example/v2', 'and the old document kept')

  const missing = new MetadataCache({ ...source, upstreamUrl, discoveryPath: '/missing/.well-known/openid-configuration' }, () => undefined)
  await t.rejects(Promise.resolve(missing.get()), { code: 'metadata_unavailable', status: 503 })
})

t.test('bounded GETs: size limit, timeout, and TLS that must verify', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/big') res.end('x'.repeat(10_000))
    // '/hang' never answers
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await t.rejects(getFromUpstream(new URL('/big', base), { timeoutMs: 1000, maxBytes: 1000 }), /larger than 1000 bytes/)
  await t.rejects(getFromUpstream(new URL('/hang', base), { timeoutMs: 200, maxBytes: 1000 }), /no answer within 200 ms/)

  const dir = mkdtempSync(join(tmpdir(), 'jarm-tls-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('{}'))
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { tls.closeAllConnections(); tls.close() })
  await t.rejects(getFromUpstream(new URL(`https://127.0.0.1:${(tls.address() as AddressInfo).port}/`), { timeoutMs: 1000, maxBytes: 1000 }), { code: 'upstream_tls_failed', message: /not signed by a trusted CA \(DEPTH_ZERO_SELF_SIGNED_CERT\)/, cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } }, 'an untrusted certificate is refused, as a TLS failure with its cause')
})

t.test('a legacy server without jwks_uri: the gateway serves its own JWKS under the issuer, on the issuer\'s origin', async (t) => {
  const bare = { issuer: 'https://id.example/realms/main', authorization_endpoint: 'https://id.example/realms/main/auth' }
  t.same(readMetadata(bare, source).gatewayJwks, { path: '/realms/main/.well-known/jarm-gateway-jwks.json', uri: 'https://id.example/realms/main/.well-known/jarm-gateway-jwks.json' })
  t.same(readMetadata({ ...bare, issuer: 'https://id.example/' }, source).gatewayJwks, { path: '/.well-known/jarm-gateway-jwks.json', uri: 'https://id.example/.well-known/jarm-gateway-jwks.json' }, 'an issuer without a path')
  t.same(readMetadata(bare, { ...source, issuer: 'https://public.example:8443/tenant/' }).gatewayJwks, { path: '/tenant/.well-known/jarm-gateway-jwks.json', uri: 'https://public.example:8443/tenant/.well-known/jarm-gateway-jwks.json' }, 'the configured issuer is the one published')
  t.equal(readMetadata({ ...bare, jwks_uri: 'https://id.example/keys' }, source).gatewayJwks, undefined, 'the legacy server\'s own jwks_uri gets the keys merged in instead')
  t.equal(readMetadata({ ...bare, jwks_uri: 42 }, source).gatewayJwks?.path, '/realms/main/.well-known/jarm-gateway-jwks.json', 'a jwks_uri that is not a URL counts as none')

  const metadata = readMetadata(bare, source)
  t.same(publishDiscovery(bare, { issuer: undefined, responseModes: [], signingAlgs: ['ES256'], jwksUri: metadata.gatewayJwks?.uri })['jwks_uri'], 'https://id.example/realms/main/.well-known/jarm-gateway-jwks.json')
  t.notOk('jwks_uri' in publishDiscovery(bare, { issuer: undefined, responseModes: [], signingAlgs: [] }), 'nothing invented otherwise')
  t.ok(isGatewayJwksRequest('GET', '/realms/main/.well-known/jarm-gateway-jwks.json', metadata))
  t.ok(isGatewayJwksRequest('HEAD', '/realms/main/.well-known/jarm-gateway-jwks.json', metadata))
  t.notOk(isGatewayJwksRequest('POST', '/realms/main/.well-known/jarm-gateway-jwks.json', metadata), 'other methods go to the legacy server')
  t.notOk(isGatewayJwksRequest('GET', '/.well-known/jarm-gateway-jwks.json', metadata), 'only under the issuer')
  t.notOk(isGatewayJwksRequest('GET', '/realms/main/.well-known/jarm-gateway-jwks.json', readMetadata({ ...bare, jwks_uri: 'https://id.example/keys' }, source)))

  const answer = gatewayJwksAnswer([{ kty: 'EC', kid: 'b', crv: 'P-256', x: 'x', y: 'y' }])
  t.equal(answer.status, 200)
  t.same(JSON.parse(answer.body), { keys: [{ kty: 'EC', kid: 'b', crv: 'P-256', x: 'x', y: 'y' }] })
  t.same(answer.headers, { 'content-type': 'application/jwk-set+json', 'cache-control': 'no-cache' })
})
