// The issuers module: which issuer a path belongs to (pure), and the registry that owns each
// issuer's discovery, clients and tenants, against a small legacy server with WSO2-style tenants.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildConfig } from '../../src/config/load-config.js'
import { issuerScope, matchScope, matchWellKnownScope, pathSegments, withTenant } from '../../src/issuers/issuer-paths.js'
import { IssuerRegistry, MISSPELLED_ISSUER_PATH, SHARED_KEYS, type Issuer } from '../../src/issuers/issuer-registry.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { readMetadata } from '../../src/metadata/upstream-metadata.js'

t.test('paths are read as servers route them; a tenant is one plain segment, in its case', async (t) => {
  t.same(pathSegments('/'), [])
  t.same(pathSegments('//realms/./A/;x=1/../A/auth/'), ['realms', 'A', 'auth'])
  t.same(pathSegments('/realms/%61'), ['realms', 'a'], 'an unreserved escape is its character')
  const keycloak = issuerScope('https://id.example.com/realms/{tenant}')
  t.same(keycloak.segments, ['realms', undefined])
  t.same(matchScope(keycloak, ['REALMS', 'Retail', 'protocol']), { tenant: 'Retail', length: 2, exact: false }, 'fixed segments without case, the tenant in its own')
  t.equal(matchScope(keycloak, ['realms']), undefined, 'too short')
  t.equal(matchScope(keycloak, ['realm', 'x']), undefined)
  t.equal(matchScope(keycloak, ['realms', '%2F']), undefined, 'an escape that survives is no tenant')
  t.equal(matchScope(keycloak, ['realms', '..']), undefined)
  const wso2 = issuerScope('https://id.example.com/t/{tenant}/oauth2/token')
  t.same(matchScope(wso2, ['t', 'acme', 'oauth2', 'authorize']), { tenant: 'acme', length: 2, exact: true }, "a template's scope ends at its tenant")
  const listed = issuerScope('https://id.example.com/Realms/Main/')
  t.same(listed.segments, ['realms', 'main'])
  t.same(matchScope(listed, ['realms', 'main', 'x']), { tenant: '', length: 2, exact: false }, 'spelled otherwise')
  t.same(matchScope(listed, ['Realms', 'Main', 'x']), { tenant: '', length: 2, exact: true }, 'spelled as the issuer is')
  t.same(matchScope(issuerScope('https://id.example.com'), ['anything']), { tenant: '', length: 0, exact: true }, 'an issuer without a path owns every path')
  t.same(matchWellKnownScope(listed, ['.well-known', 'openid-configuration', 'realms', 'main']), { tenant: '', length: 2, exact: false })
  t.same(matchWellKnownScope(keycloak, ['.well-known', 'oauth-authorization-server', 'realms', 'b']), { tenant: 'b', length: 2, exact: true })
  t.equal(matchWellKnownScope(listed, ['.well-known', 'openid-configuration', 'realms', 'main', 'more']), undefined, 'exactly the issuer')
  t.equal(matchWellKnownScope(listed, ['.well-known', 'jwks.json']), undefined)
  t.equal(matchWellKnownScope(listed, ['realms', 'main']), undefined)
  t.equal(withTenant('/t/{tenant}/oauth2/authorize', 'acme'), '/t/acme/oauth2/authorize')
  t.equal(withTenant(undefined, 'acme'), undefined)
})

// A WSO2-style legacy server: each tenant's issuer is /t/<tenant>/oauth2/token, its endpoints beside it.
const documents = new Map<string, Record<string, unknown>>()
let discoveryHits = 0
const legacy = createServer((req, res) => {
  const document = documents.get(req.url!)
  if (req.url!.includes('.well-known')) discoveryHits++
  if (document === undefined) return void res.writeHead(404).end()
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document))
})
await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve))
t.teardown(() => legacy.close())
const upstream = `http://127.0.0.1:${(legacy.address() as AddressInfo).port}`
const ID = 'https://id.example.com'
function tenantDocument (tenant: string, issuer = `${ID}/t/${tenant}/oauth2/token`): Record<string, unknown> {
  return { issuer, authorization_endpoint: `${ID}/t/${tenant}/oauth2/authorize`, pushed_authorization_request_endpoint: `${ID}/t/${tenant}/oauth2/par`, jwks_uri: `${ID}/t/${tenant}/oauth2/jwks` }
}
for (const tenant of ['acme', 'beta', 'x1', 'x2', 'x3']) documents.set(`/t/${tenant}/oauth2/token/.well-known/openid-configuration`, tenantDocument(tenant))
documents.set('/t/liar/oauth2/token/.well-known/openid-configuration', tenantDocument('liar', `${ID}/t/other/oauth2/token`))

const own = await generatePrivateJwk('ES256')
const refreshErrors: string[] = []
async function registry (issuers: unknown[], extra: Record<string, unknown> = {}): Promise<IssuerRegistry> {
  const config = await buildConfig({ upstream: { url: upstream, timeout_ms: 500 }, state: { secrets: ['s'.repeat(32)] }, issuers, ...extra }, process.cwd())
  return new IssuerRegistry(config, { onRefreshError: (error) => refreshErrors.push(error.message), now: Date.now })
}

t.test('routing: listed issuers by path (most specific first), endpoints their discovery names, then templates', async (t) => {
  const issuers = await registry([
    { issuer: `${ID}/t/acme/oauth2/token`, keys: { keys: [own] }, clients: { app1: { authorization_signed_response_alg: 'ES256' } } },
    { issuer: `${ID}/t/acme/oauth2/token/sub` },
    { issuer: `${ID}/t/{tenant}/oauth2/token` },
  ], { default_signed_response_alg: 'ES256' })
  const [acme, sub] = issuers.listed
  t.equal(issuers.route('/t/acme/oauth2/token/.well-known/openid-configuration', false), acme)
  t.equal(issuers.route('/t/acme/oauth2/token/sub/x', false), sub, 'the longer path wins')
  t.equal(issuers.route('/.well-known/openid-configuration/t/acme/oauth2/token', false), acme, 'RFC 8414 discovery forms')
  t.equal(issuers.route('/elsewhere', false), undefined, 'no issuer: passes through')
  t.equal(issuers.route('/t/acme/oauth2/authorize', true), acme, "the template's shape covers it, and the listed issuer wins over the template")
  t.equal(issuers.tenantCount, 0, 'no tenant made for a listed issuer')
  t.equal(acme!.settings.clients.get('app1')?.authorizationSignedResponseAlg, 'ES256')
  t.equal(acme!.keysId, `${ID}/t/acme/oauth2/token`, 'its own keys')
  t.equal(sub!.keysId, SHARED_KEYS)
  t.same(issuers.publicKeys().get(acme!.keysId), [acme!.settings.keyRing.publicJwks].flat())

  const beta = issuers.route('/t/beta/oauth2/authorize', false)
  t.ok(typeof beta === 'object' && !(beta instanceof Promise))
  if (typeof beta !== 'object' || beta instanceof Promise) return
  t.equal(beta.issuer, `${ID}/t/beta/oauth2/token`, 'a tenant of the template')
  t.equal(beta.label((await beta.metadata.get())), `${ID}/t/{tenant}/oauth2/token`, 'labelled by its template')
  t.equal((await beta.metadata.get()).authorizationEndpointPath, '/t/beta/oauth2/authorize', 'discovered on first use at its own path')
  t.equal(issuers.route('/t/beta/oauth2/jwks', false), beta, 'kept')
  t.equal(acme!.label(await acme!.metadata.get()), `${ID}/t/acme/oauth2/token`)

  // Paths that name an issuer only without case: one server reads them as that issuer, another as a different one.
  t.equal(issuers.route('/T/acme/oauth2/token/x', true), MISSPELLED_ISSUER_PATH, 'a listed issuer in another case')
  t.equal(issuers.route('/T/acme/oauth2/authorize', true), MISSPELLED_ISSUER_PATH, 'its endpoint outside its path in another case')
  t.equal(issuers.route('/t/acme/oauth2/authorize.json', true), acme, 'its endpoint as spelled, with a format suffix')
  const tenant = issuers.route('/t/ACME/oauth2/token/x', true)
  t.equal((tenant as { issuer: string }).issuer, `${ID}/t/ACME/oauth2/token`, 'a tenant spelled as the template is: the tenant ACME (which must publish exactly its issuer)')
  t.equal(issuers.route('/t/ACME/oauth2/authorize', false), tenant, 'also at the listed endpoint\'s path in another case')
  t.equal(issuers.route('/T/beta/oauth2/authorize', true), MISSPELLED_ISSUER_PATH, "a template's fixed segment in another case")
})

t.test('tenants: a bounded table, least recently used dropped', async (t) => {
  const issuers = await registry([{ issuer: `${ID}/t/{tenant}/oauth2/token` }], { limits: { tenants: 2 } })
  const x1 = issuers.route('/t/x1/a', false)
  issuers.route('/t/x2/a', false)
  t.equal(issuers.route('/t/x1/b', false), x1, 'x1 used again: now the most recent')
  issuers.route('/t/x3/a', false)
  t.equal(issuers.tenantCount, 2)
  t.equal(issuers.route('/t/x1/c', false), x1, 'x1 kept')
  t.not(issuers.route('/t/x2/b', false), undefined)
  t.equal(issuers.tenantCount, 2, 'x2 came back as a new tenant in place of x3')
  t.same(await issuers.listedMetadata(), [], 'templates are not listed')
  const liar = issuers.route('/t/liar/oauth2/authorize', false)
  if (typeof liar !== 'object' || liar instanceof Promise) { t.fail('a tenant'); return }
  await t.rejects(Promise.resolve(liar.metadata.get()), { code: 'metadata_unavailable' }, 'a tenant whose discovery names another issuer is unavailable')
})

t.test("a listed issuer whose discovery fails: requests that may ask for a JWT mode fail closed, others pass", async (t) => {
  const issuers = await registry([{ issuer: `${ID}/t/gone/oauth2/token` }, { issuer: `${ID}/t/acme/oauth2/token` }])
  t.equal(issuers.route('/t/elsewhere', false), undefined)
  await t.rejects(Promise.resolve(issuers.route('/t/elsewhere', true)), { code: 'metadata_unavailable' })
  await t.rejects(issuers.listedMetadata(), { code: 'metadata_unavailable' }, 'not ready')
  // Once acme's discovery is known, its endpoint is found although the other issuer is still down.
  await issuers.listed[1]!.metadata.get()
  t.equal(await issuers.route('/t/acme/oauth2/authorize', true), issuers.listed[1])
  const fresh = await registry([{ issuer: `${ID}/t/acme/oauth2/token` }])
  const pending = fresh.route('/t/acme/oauth2/authorize', true)
  t.ok(pending instanceof Promise, "a request that may ask for a JWT mode waits for a listed issuer's endpoints")
  // acme's discovery names its authorization endpoint outside its path: routed there once known.
  t.equal(await pending, fresh.listed[0])
  t.equal(fresh.route('/t/acme/oauth2/authorize', false), fresh.listed[0], 'then at once')
  t.equal(fresh.route('/t/acme/oauth2/par', false), fresh.listed[0])
  t.equal(fresh.route('/t/acme/oauth2/jwks', false), fresh.listed[0])
  const known = await registry([{ issuer: `${ID}/t/acme/oauth2/token` }])
  await known.listed[0]!.metadata.get()
  t.equal(known.route('/t/elsewhere', true), undefined, 'every listed issuer known: no waiting')
})

t.test('a flow is its own issuer\'s; one sealed without an issuer is the first listed one\'s', async (t) => {
  const issuers = await registry([{ issuer: `${ID}/realms/a` }, { issuer: `${ID}/realms/b` }, { issuer: `${ID}/realms/{tenant}` }])
  const [a, b] = issuers.listed
  const c = issuers.route('/realms/c/x', false) as Issuer | Promise<Issuer>
  const flow = { mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://c.example/cb', responseType: 'code' } as const
  t.ok(a!.owns({ ...flow, issuer: `${ID}/realms/a` }))
  t.notOk(b!.owns({ ...flow, issuer: `${ID}/realms/a` }))
  t.ok(a!.owns(flow), 'the default issuer')
  t.notOk(b!.owns(flow))
  if (c instanceof Promise) { t.fail('sync'); return }
  t.ok(c.owns({ ...flow, issuer: `${ID}/realms/c` }))
  t.notOk(c.owns(flow))
  t.equal(a!.policy.issuer, `${ID}/realms/a`, 'flows are sealed with their issuer')
  const shorthand = new IssuerRegistry(await buildConfig({ upstream: { url: upstream } }, process.cwd()), { onRefreshError: () => {}, now: Date.now })
  const only = shorthand.route('/any/path', true)
  t.equal(only, shorthand.listed[0], 'the shorthand: every path is the one issuer\'s')
  if (typeof only !== 'object' || only instanceof Promise) return
  t.equal(only.policy.issuer, undefined, 'its flows carry no issuer (as before)')
  t.ok(only.owns(flow))
  t.equal(only.label({ issuer: 'https://discovered' } as never), 'https://discovered')
})

t.test('a reload keeps the discovery of issuers that did not change', async (t) => {
  const config = await buildConfig({ upstream: { url: upstream }, issuers: [{ issuer: `${ID}/t/acme/oauth2/token` }, { issuer: `${ID}/t/beta/oauth2/token` }] }, process.cwd())
  const first = new IssuerRegistry(config, { onRefreshError: () => {}, now: Date.now })
  await first.listedMetadata()
  const hits = discoveryHits
  const changed = await buildConfig({ upstream: { url: upstream }, issuers: [{ issuer: `${ID}/t/acme/oauth2/token` }, { issuer: `${ID}/t/beta/oauth2/token`, authorization_endpoint: '/t/beta/custom' }] }, process.cwd())
  const second = new IssuerRegistry(changed, { onRefreshError: () => {}, now: Date.now, previous: first })
  t.equal(second.listed[0]!.metadata, first.listed[0]!.metadata, 'unchanged: the same cache')
  t.not(second.listed[1]!.metadata, first.listed[1]!.metadata, 'changed: a new one')
  t.equal((await second.listed[1]!.metadata.get()).authorizationEndpointPath, '/t/beta/custom')
  t.equal(discoveryHits, hits + 1, 'only the changed issuer is fetched again')
})

t.test('discovery of an issuer must be exact when the gateway fronts several', async (t) => {
  const document = { issuer: 'https://id.example/realms/b', authorization_endpoint: 'https://id.example/realms/b/auth' }
  t.throws(() => readMetadata(document, { upstreamUrl: upstream, issuer: 'https://id.example/realms/a', timeoutMs: 100, maxBytes: 1024, exactIssuer: true }), /the discovery document is issuer https:\/\/id.example\/realms\/b, not https:\/\/id.example\/realms\/a/)
  t.equal(readMetadata(document, { upstreamUrl: upstream, issuer: 'https://id.example/realms/a', timeoutMs: 100, maxBytes: 1024 }).issuerMismatch !== undefined, true, 'the shorthand only warns, as before')
})
