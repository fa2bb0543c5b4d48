// Environment overrides: names derived from the schema, typed values, _FILE secrets, and problems
// that name the variable but never its value.
import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyEnvironmentOverrides, environmentSettings, envSegment } from '../../src/config/environment-overrides.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { CONFIG_SCHEMA, ConfigError, loadConfigFile } from '../../src/config/load-config.js'

const dir = await mkdtemp(join(tmpdir(), 'jarm-gateway-env-'))
t.teardown(async () => { const { rm } = await import('node:fs/promises'); await rm(dir, { recursive: true, force: true }) })
const SECRET = 'a-state-secret-from-a-mounted-file-0123456789'
const CLIENT_SECRET = 'a-client-secret-from-a-mounted-file-0123456789'
const configFile = join(dir, 'gateway.config.json')
await writeFile(configFile, JSON.stringify({ upstream: { url: 'http://127.0.0.1:9000' }, clients: { 'app-1': { authorization_signed_response_alg: 'ES256' } } }))

t.test('every schema setting has one derived name, secrets are marked, maps get a JSON name and per-entry names', async (t) => {
  const settings = environmentSettings(CONFIG_SCHEMA)
  const names = settings.map((s) => s.name)
  t.equal(new Set(names).size, names.length, 'names are unique')
  t.ok(names.every((name) => /^JARM_GATEWAY_[A-Z0-9_<>]+$/.test(name)))
  const byName = new Map(settings.map((s) => [s.name, s]))
  t.same(byName.get('JARM_GATEWAY_UPSTREAM_URL')?.path, ['upstream', 'url'])
  t.equal(byName.get('JARM_GATEWAY_LISTEN_PORT')?.kind, 'integer')
  t.equal(byName.get('JARM_GATEWAY_LISTEN_PORT')?.default, 8080)
  t.equal(byName.get('JARM_GATEWAY_TRUST_FORWARDED_HEADERS')?.kind, 'boolean')
  t.equal(byName.get('JARM_GATEWAY_RESPONSE_MODES')?.kind, 'list')
  t.equal(byName.get('JARM_GATEWAY_KEYS')?.kind, 'string-or-json')
  t.equal(byName.get('JARM_GATEWAY_CLIENTS')?.kind, 'json-object')
  t.equal(byName.get('JARM_GATEWAY_DEFAULT_SIGNED_RESPONSE_ALG')?.kind, 'string', 'a $ref enum is a string')
  t.same(byName.get('JARM_GATEWAY_CLIENTS_<ID>_CLIENT_SECRET')?.path, ['clients', '*', 'client_secret'])
  t.same(settings.filter((s) => s.secret).map((s) => s.name).sort(), ['JARM_GATEWAY_CLIENTS_<ID>_CLIENT_SECRET', 'JARM_GATEWAY_ISSUERS_<N>_CLIENTS_<ID>_CLIENT_SECRET', 'JARM_GATEWAY_ISSUERS_<N>_KEYS', 'JARM_GATEWAY_KEYS', 'JARM_GATEWAY_REPLAY_STORE_URL', 'JARM_GATEWAY_STATE_SECRETS'])
  t.notOk(names.includes('JARM_GATEWAY_$SCHEMA'), '$schema is not a setting')
  t.equal(envSegment('my-app.v2'), 'MY_APP_V2')
})

t.test('values from variables and files become typed settings and pass validation', async (t) => {
  const stateFile = join(dir, 'state-secrets')
  const clientSecretFile = join(dir, 'client-secret')
  await writeFile(stateFile, `${SECRET}\nsecond-secret-for-rotation-0123456789abcdef\n`)
  await writeFile(clientSecretFile, `${CLIENT_SECRET}\n`)
  const config = await loadConfigFile(configFile, {
    JARM_GATEWAY_UPSTREAM_URL: 'http://legacy:8081',
    JARM_GATEWAY_LISTEN_HOST: '0.0.0.0',
    JARM_GATEWAY_LISTEN_PORT: ' 9090 ',
    JARM_GATEWAY_LISTEN_DRAIN_TIMEOUT_MS: '2500',
    JARM_GATEWAY_TRUST_FORWARDED_HEADERS: 'TRUE',
    JARM_GATEWAY_RESPONSE_MODES: 'query.jwt, form_post.jwt',
    JARM_GATEWAY_STATE_SECRETS_FILE: stateFile,
    JARM_GATEWAY_CLIENTS_APP_1_AUTHORIZATION_SIGNED_RESPONSE_ALG: 'HS256',
    JARM_GATEWAY_CLIENTS_APP_1_CLIENT_SECRET_FILE: clientSecretFile,
    JARM_GATEWAY_CLIENTS_APP_1_REDIRECT_URIS: '["https://app.example/cb","https://app.example/cb2"]',
    JARM_GATEWAY_OBSERVABILITY_ADMIN_PORT: '9091',
    JARM_GATEWAY_KEYS: JSON.stringify({ keys: [await generatePrivateJwk('RS256')] }),
    JARM_GATEWAY_UNRELATED: 'ignored',
  })
  t.equal(config.upstream.url, 'http://legacy:8081')
  t.same(config.listen, { host: '0.0.0.0', port: 9090, drainTimeoutMs: 2500 })
  t.equal(config.trustForwardedHeaders, true)
  t.same([...config.responseModes], ['query.jwt', 'form_post.jwt'])
  t.same(config.state.secrets, [SECRET, 'second-secret-for-rotation-0123456789abcdef'], 'one secret per line of the file')
  t.same(config.clients.get('app-1'), { authorizationSignedResponseAlg: 'HS256', clientSecret: CLIENT_SECRET, redirectUris: ['https://app.example/cb', 'https://app.example/cb2'], requireSignedRequestObject: false, requirePushedAuthorizationRequests: false }, 'the final newline of the file is dropped')
  t.equal(config.keyRing.keys.length, 1, 'an inline JWKS from a variable')
  t.equal(config.observability.adminPort, 9091)
  t.equal(config.observability.adminHost, '0.0.0.0', 'the admin host follows listen.host')
})

t.test('a map variable replaces the map; booleans, lists and inline keys parse both ways', async (t) => {
  const { config, applied, problems } = await applyEnvironmentOverrides({ upstream: { url: 'http://a' }, clients: { old: {} } }, {
    JARM_GATEWAY_CLIENTS: '{"new":{"authorization_signed_response_alg":"ES256"}}',
    JARM_GATEWAY_CLIENTS_OLD_CLIENT_SECRET: 'not applied: old is gone',
    JARM_GATEWAY_CLIENTS_NEW_REDIRECT_URIS: 'https://a.example/cb,https://b.example/cb',
    JARM_GATEWAY_TRUST_FORWARDED_HEADERS: '0',
    JARM_GATEWAY_KEYS: './keys/signing.jwks.json',
    JARM_GATEWAY_STATE_SECRETS: '["x,y"]',
    JARM_GATEWAY_ISSUER: 'https://id.example.com',
  }, CONFIG_SCHEMA)
  t.same(problems, [])
  t.same(config, {
    upstream: { url: 'http://a' },
    clients: { new: { authorization_signed_response_alg: 'ES256', redirect_uris: ['https://a.example/cb', 'https://b.example/cb'] } },
    trust_forwarded_headers: false,
    keys: './keys/signing.jwks.json',
    state: { secrets: ['x,y'] },
    issuer: 'https://id.example.com',
  })
  t.same(applied.sort(), ['JARM_GATEWAY_CLIENTS', 'JARM_GATEWAY_CLIENTS_NEW_REDIRECT_URIS', 'JARM_GATEWAY_ISSUER', 'JARM_GATEWAY_KEYS', 'JARM_GATEWAY_STATE_SECRETS', 'JARM_GATEWAY_TRUST_FORWARDED_HEADERS'])
  const nothing = await applyEnvironmentOverrides([1], { JARM_GATEWAY_ISSUER: 'x' }, CONFIG_SCHEMA)
  t.same(nothing.config, [1], 'a config that is not an object is left for the validator to refuse')
})

t.test('bad values are every one reported, by variable name, without the value', async (t) => {
  const secretLookingValue = 'not-a-number-but-maybe-a-secret'
  const error = await loadConfigFile(configFile, {
    JARM_GATEWAY_LISTEN_PORT: secretLookingValue,
    JARM_GATEWAY_TRUST_FORWARDED_HEADERS: 'yes please',
    JARM_GATEWAY_CLIENTS: '[]',
    JARM_GATEWAY_RESPONSE_MODES: '[not json',
    JARM_GATEWAY_KEYS: '{broken',
    JARM_GATEWAY_UPSTREAM_URL: 'http://a', JARM_GATEWAY_UPSTREAM_URL_FILE: join(dir, 'x'),
    JARM_GATEWAY_ISSUER_FILE: join(dir, 'missing-file'),
  }).catch((e: unknown) => e)
  t.type(error, ConfigError)
  t.same((error as ConfigError).problems, [
    'JARM_GATEWAY_LISTEN_PORT: must be an integer',
    'JARM_GATEWAY_UPSTREAM_URL, JARM_GATEWAY_UPSTREAM_URL_FILE: set one of them, not both',
    `JARM_GATEWAY_ISSUER_FILE: cannot read ${join(dir, 'missing-file')} (ENOENT)`,
    'JARM_GATEWAY_KEYS: must be a JSON object',
    'JARM_GATEWAY_CLIENTS: must be a JSON object',
    'JARM_GATEWAY_RESPONSE_MODES: must be a JSON array',
    'JARM_GATEWAY_TRUST_FORWARDED_HEADERS: must be true or false',
  ])
  t.notMatch((error as Error).message, secretLookingValue)
})

t.test('a value from the environment is validated like one from the file', async (t) => {
  const error = await loadConfigFile(configFile, { JARM_GATEWAY_LISTEN_PORT: '70000', JARM_GATEWAY_OBSERVABILITY_HEALTH_PATH: 'healthz' }).catch((e: unknown) => e)
  t.type(error, ConfigError)
  t.same((error as ConfigError).problems, ['listen.port: must be <= 65535', 'observability.health_path: must match pattern "^/"'])
})

t.test('the derivation follows any schema: a map of plain values, and a map under a setting that is not an object', async (t) => {
  const schema = {
    type: 'object',
    properties: {
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      outer: { type: 'object', properties: { routes: { type: 'object', additionalProperties: { type: 'object', properties: { target: { type: 'string' } } } } } },
    },
  }
  t.same(environmentSettings(schema).map((s) => s.name), ['JARM_GATEWAY_LABELS', 'JARM_GATEWAY_OUTER_ROUTES', 'JARM_GATEWAY_OUTER_ROUTES_<ID>_TARGET'])
  const { config, problems } = await applyEnvironmentOverrides({ outer: 5 }, { JARM_GATEWAY_LABELS: '{"team":"id"}', JARM_GATEWAY_OUTER_ROUTES_A_TARGET: 'x' }, schema)
  t.same(problems, [])
  t.same(config, { outer: 5, labels: { team: 'id' } }, 'no entries to apply per-entry variables to')
  const nested = await applyEnvironmentOverrides({ outer: { routes: { a: {} } } }, { JARM_GATEWAY_OUTER_ROUTES_A_TARGET: 'x' }, schema)
  t.same(nested.config, { outer: { routes: { a: { target: 'x' } } } })
})

t.test('a variable that two client_ids share is an error naming both and the variable, never its value', async (t) => {
  const twins = { upstream: { url: 'http://a' }, clients: { 'my-app': { authorization_signed_response_alg: 'HS256' }, 'my.app': {}, other: {} } }
  const value = 'a-client-secret-that-must-not-be-logged-0123456789'
  const clash = await applyEnvironmentOverrides(twins, {
    JARM_GATEWAY_CLIENTS_MY_APP_CLIENT_SECRET: value,
    JARM_GATEWAY_CLIENTS_MY_APP_REDIRECT_URIS_FILE: join(dir, 'never-read'),
    JARM_GATEWAY_CLIENTS_OTHER_CLIENT_SECRET: value,
  }, CONFIG_SCHEMA)
  t.same(clash.problems, [
    'JARM_GATEWAY_CLIENTS_MY_APP_CLIENT_SECRET: is ambiguous: it names clients.my-app.client_secret and clients.my.app.client_secret (client_ids "my-app" and "my.app" are both MY_APP in a variable name); set the value in the file or in JARM_GATEWAY_CLIENTS, or rename one of the clients',
    'JARM_GATEWAY_CLIENTS_MY_APP_REDIRECT_URIS_FILE: is ambiguous: it names clients.my-app.redirect_uris and clients.my.app.redirect_uris (client_ids "my-app" and "my.app" are both MY_APP in a variable name); set the value in the file or in JARM_GATEWAY_CLIENTS, or rename one of the clients',
  ])
  t.same(clash.applied, ['JARM_GATEWAY_CLIENTS_OTHER_CLIENT_SECRET'], 'an unambiguous variable still applies')
  t.same(clash.config, { ...twins, clients: { ...twins.clients, other: { client_secret: value } } }, 'neither twin got the value')
  t.notMatch(clash.problems.join('\n'), value)

  const quiet = await applyEnvironmentOverrides(twins, { JARM_GATEWAY_CLIENTS_OTHER_CLIENT_SECRET: value, JARM_GATEWAY_CLIENTS_MY_APPS_CLIENT_SECRET: value }, CONFIG_SCHEMA)
  t.same(quiet.problems, [], 'twins that no variable names are fine')

  const fromMap = await applyEnvironmentOverrides({ upstream: { url: 'http://a' } }, {
    JARM_GATEWAY_CLIENTS: '{"a-b":{},"a_b":{},"A.B":{}}',
    JARM_GATEWAY_CLIENTS_A_B_JWKS_URI: 'https://a.example/jwks',
  }, CONFIG_SCHEMA)
  t.same(fromMap.problems, [
    'JARM_GATEWAY_CLIENTS_A_B_JWKS_URI: is ambiguous: it names clients.a-b.jwks_uri, clients.a_b.jwks_uri and clients.A.B.jwks_uri (client_ids "a-b", "a_b" and "A.B" are all A_B in a variable name); set the value in the file or in JARM_GATEWAY_CLIENTS, or rename one of the clients',
  ], 'the clients of JARM_GATEWAY_CLIENTS are checked too, whatever their number')
})

t.test('the collision stops the load at start, at --check-config and on reload alike (one loader)', async (t) => {
  const file = join(dir, 'twins.config.json')
  await writeFile(file, JSON.stringify({ upstream: { url: 'http://127.0.0.1:9000' }, clients: { 'my-app': {}, 'my.app': {} } }))
  await loadConfigFile(file, {})
  const error = await loadConfigFile(file, { JARM_GATEWAY_CLIENTS_MY_APP_AUTHORIZATION_SIGNED_RESPONSE_ALG: 'ES256' }).catch((e: unknown) => e)
  t.type(error, ConfigError)
  t.match((error as ConfigError).problems, [/^JARM_GATEWAY_CLIENTS_MY_APP_AUTHORIZATION_SIGNED_RESPONSE_ALG: is ambiguous: it names clients\.my-app\.authorization_signed_response_alg and clients\.my\.app\.authorization_signed_response_alg/])
})

t.test('any schema: a name that two settings of different entries share is caught too', async (t) => {
  // routes.a.x_target and routes.a_x.target are both JARM_GATEWAY_ROUTES_A_X_TARGET.
  const schema = { type: 'object', properties: { routes: { type: 'object', additionalProperties: { type: 'object', properties: { target: { type: 'string' }, x_target: { type: 'string' } } } } } }
  const { problems, config } = await applyEnvironmentOverrides({ routes: { a: {}, a_x: {} } }, { JARM_GATEWAY_ROUTES_A_X_TARGET: 'x', JARM_GATEWAY_ROUTES_A_TARGET: 'y' }, schema)
  t.same(problems, ['JARM_GATEWAY_ROUTES_A_X_TARGET: is ambiguous: it names routes.a_x.target and routes.a.x_target (keys of routes "a_x" and "a" meet in this variable name); set the value in the file or in JARM_GATEWAY_ROUTES, or rename one of the keys'])
  t.same(config, { routes: { a: { target: 'y' }, a_x: {} } })
})

t.test('no fixed setting can be mistaken for a per-client one', async (t) => {
  const fixed = environmentSettings(CONFIG_SCHEMA).filter((s) => !s.path.includes('*')).map((s) => s.name)
  t.same(fixed.filter((name) => name.startsWith('JARM_GATEWAY_CLIENTS_')), [], 'every JARM_GATEWAY_CLIENTS_* name is a client\'s')
})
