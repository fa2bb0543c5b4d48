import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildConfig, loadConfigFile, signingAlgorithms } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { problemsOf } from '../helpers/config-problems.js'

const upstream = { url: 'http://127.0.0.1:9000' }


t.test('the README config example loads (keys from a file next to it)', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const example = /<!-- config-example -->\s*```json\n([\s\S]*?)```/.exec(readme)?.[1]
  t.ok(example, 'the README has the example')
  const dir = mkdtempSync(join(tmpdir(), 'jarm-config-'))
  mkdirSync(join(dir, 'keys'))
  writeFileSync(join(dir, 'keys', 'signing.jwks.json'), JSON.stringify({ keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('RS256'), await generatePrivateJwk('PS256')] }))
  writeFileSync(join(dir, 'gateway.config.json'), example!)
  const config = await loadConfigFile(join(dir, 'gateway.config.json'))
  t.equal(config.issuer, 'https://id.example.com/realms/main')
  t.equal(config.clients.get('app2')?.authorizationSignedResponseAlg, 'HS256')
  t.same(config.warnings, [])
  t.same(signingAlgorithms(config), ['ES256', 'RS256', 'PS256', 'HS256', 'HS384', 'HS512'])
  const app3 = config.clients.get('app3')!
  t.equal(app3.encryption?.alg, 'ECDH-ES', 'app3 is encrypted with ECDH-ES A256GCM')
  t.equal(app3.encryption?.enc, 'A256GCM')
  t.same(app3.redirectUris, ['https://app3.example.com/callback'])
  t.equal(config.unlistedClients, 'sign')
  t.ok(Object.isFrozen(config))
})

t.test('the shipped gateway.config.json is valid and fills every default', async (t) => {
  const config = await loadConfigFile(new URL('../../gateway.config.json', import.meta.url).pathname)
  t.same(config.listen, { host: '127.0.0.1', port: 8080, drainTimeoutMs: 10000 })
  t.same(config.upstream, { url: 'http://127.0.0.1:9000', timeoutMs: 30000, responseMode: 'auto', discoveryPath: undefined, authorizationEndpoint: undefined })
  t.equal(config.responseTtlSeconds, 120)
  t.same([...config.responseModes], ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'])
  t.equal(config.defaultSignedResponseAlg, 'RS256')
  t.equal(config.state.ttlSeconds, 1800)
  t.ok(config.state.ephemeral)
  t.same(config.keyRing.algorithms, ['RS256', 'ES256'], 'ephemeral keys for what the clients need')
  t.ok(config.keyRing.keys.every((key) => key.ephemeral))
  t.equal(config.warnings.length, 2)
  t.match(config.warnings[0], /ephemeral keys \(RS256, ES256\)/)
  t.same(signingAlgorithms(config), ['RS256', 'ES256'])
})

t.test('schema problems: every one, with its path', async (t) => {
  const problems = await problemsOf({
    upstream: { url: 'ftp://x', timeout_ms: 5, response_mode: 'jwt', extra: 1 },
    listen: { port: 70000 },
    clients: { 'app/1': { authorization_signed_response_alg: 'none', redirect_uris: ['not a uri'] } },
    response_ttl_seconds: 3600,
    response_modes: ['query.jwt', 'web_message.jwt'],
    state: { secrets: ['short'] },
    keys: 42,
    tpyo: true,
  })
  t.match(problems[0], /^clients\.app\/1\.authorization_signed_response_alg: client app\/1 is "none", which is refused/, 'alg none is named with the reason first')
  t.same(problems.slice(1), [
    'tpyo: is not a known setting',
    'listen.port: must be <= 65535',
    'upstream.extra: is not a known setting',
    'upstream.url: must match pattern "^https?://[^/?#]+/?$"',
    'upstream.timeout_ms: must be >= 100',
    'upstream.response_mode: must be one of "auto", "query", "fragment", "form_post"',
    'keys: must be a path to a JWKS file or an inline JWKS object',
    'clients.app/1.redirect_uris[0]: must match pattern "^[a-zA-Z][a-zA-Z0-9+.-]*:"',
    'response_ttl_seconds: must be <= 600',
    'response_modes[1]: must be one of "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"',
    'state.secrets[0]: must NOT have fewer than 32 characters',
  ])
  t.same(await problemsOf({}), ['upstream: is required'])
  t.same(await problemsOf([]), ['(root): must be object'])
})

t.test('public_origins: each must be an origin a URL parser reads', async (t) => {
  t.same(await problemsOf({ upstream, public_origins: ['https://ok.example', 'http://[bad'] }), ['public_origins[1]: is not a URL origin'])
  t.match(await problemsOf({ upstream, public_origins: ['https://a.example/path'] }), [/public_origins\[0\]/], 'a path is not an origin')
})

t.test('semantic problems: keys, algorithms, secrets', async (t) => {
  const es = await generatePrivateJwk('ES256')
  t.same(await problemsOf({
    upstream,
    keys: { keys: [es] },
    clients: { a: { authorization_signed_response_alg: 'PS256' }, b: { authorization_signed_response_alg: 'HS256' }, c: {} },
  }), [
    'clients.b.client_secret: is required for authorization_signed_response_alg HS256',
    'clients.c, default_signed_response_alg: no key in "keys" can sign RS256; add a key with "alg": "RS256"',
    'clients.a: no key in "keys" can sign PS256; add a key with "alg": "PS256"',
  ], 'key problems are reported beside client problems')
  t.same(await problemsOf({
    upstream,
    keys: { keys: [es] },
    clients: { a: { authorization_signed_response_alg: 'PS256' }, c: {} },
  }), [
    'clients.c, default_signed_response_alg: no key in "keys" can sign RS256; add a key with "alg": "RS256"',
    'clients.a: no key in "keys" can sign PS256; add a key with "alg": "PS256"',
  ])
  t.same(await problemsOf({ upstream, keys: { keys: [{ kty: 'oct' }] } }), ['keys.keys[0].kty: must be RSA, EC or OKP (Ed25519)'])
  const missing = await problemsOf({ upstream, keys: './nowhere.json' }, '/tmp')
  t.match(missing[0], /^keys: cannot read a JWKS from \/tmp\/nowhere\.json \(/)
})

t.test('configured keys and secrets raise no warning; HS clients are listed in the algorithms', async (t) => {
  const config = await buildConfig({
    upstream: { url: 'https://legacy.internal/' },
    keys: { keys: [await generatePrivateJwk('RS256')] },
    clients: { hs: { authorization_signed_response_alg: 'HS512', client_secret: 'hs512-client-secret-of-64-bytes-or-more-0123456789-0123456789abc' } },
    state: { secrets: ['state-secret-state-secret-state-secret'] },
  }, '.')
  t.same(config.warnings, [])
  t.equal(config.upstream.url, 'https://legacy.internal', 'trailing slash dropped')
  t.notOk(config.state.ephemeral)
  t.same(signingAlgorithms(config), ['RS256', 'HS256', 'HS384', 'HS512'])
})

t.test('files: unreadable, not JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jarm-config-'))
  await t.rejects(loadConfigFile(join(dir, 'missing.json')), { name: 'ConfigError', message: `invalid configuration:\n  - ${join(dir, 'missing.json')}: cannot be read (ENOENT)` })
  writeFileSync(join(dir, 'bad.json'), '{ "upstream": ')
  await t.rejects(loadConfigFile(join(dir, 'bad.json')), { name: 'ConfigError', message: /is not valid JSON/ })
})
