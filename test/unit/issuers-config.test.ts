// `issuers` in the configuration: the README's Keycloak and WSO2 examples, per-issuer clients and
// keys, what is refused (with each problem's path), environment overrides and --check-config.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.js'
import { buildConfig, loadConfigFile } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { problemsOf as problemsIn } from '../helpers/config-problems.js'
import { createLogger } from '../../src/observability/logger.js'

const upstream = { url: 'http://127.0.0.1:9000' }
const secrets = { secrets: ['a-state-secret-for-the-issuers-config-test'] }
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'jarm-issuers-'))
mkdirSync(join(dir, 'keys'))
writeFileSync(join(dir, 'keys', 'signing.jwks.json'), JSON.stringify({ keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('PS256'), await generatePrivateJwk('RS256')] }))

const problemsOf = async (input: unknown): Promise<readonly string[]> => problemsIn(input, dir)

function example (name: string): string {
  const block = new RegExp(`<!-- issuers-example-${name} -->\\s*\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(readme)?.[1]
  if (block === undefined) throw new Error(`the README has no ${name} example`)
  return block
}

t.test('the README Keycloak example: realms with their own clients, and a template', async (t) => {
  writeFileSync(join(dir, 'keycloak.json'), example('keycloak'))
  const config = await loadConfigFile(join(dir, 'keycloak.json'), {})
  t.equal(config.routesByPath, true)
  t.same(config.issuers.map((issuer) => [issuer.issuer, issuer.template]), [
    ['https://id.example.com/realms/retail', false],
    ['https://id.example.com/realms/corporate', false],
    ['https://id.example.com/realms/{tenant}', true],
  ])
  t.equal(config.issuers[0]!.clients.get('app1')?.authorizationSignedResponseAlg, 'PS256', 'the realm overrides the client')
  t.equal(config.issuers[1]!.clients.get('app1')?.authorizationSignedResponseAlg, 'ES256', 'the top-level client elsewhere')
  t.equal(config.issuers[1]!.discoveryPath, '/realms/corporate/.well-known/openid-configuration')
  t.equal(config.issuers[2]!.keyRing, config.keyRing, 'shared keys')
  t.equal(config.limits.tenants, 1000)
})

t.test('the README WSO2 example: tenants beside their issuer path, a listed tenant with an HS256 client', async (t) => {
  writeFileSync(join(dir, 'wso2.json'), example('wso2'))
  const config = await loadConfigFile(join(dir, 'wso2.json'), {})
  t.equal(config.issuers[0]!.clients.get('portal')?.authorizationSignedResponseAlg, 'HS256')
  t.equal(config.issuers[1]!.clients.has('portal'), false, "a realm's client is its own")
  t.equal(config.issuers[1]!.authorizationEndpoint, '/t/{tenant}/oauth2/authorize')
  t.ok(config.extraResponseParameters.has('AuthenticatedIdPs'))
})

t.test('the shorthand is one issuer that owns every path, as before', async (t) => {
  const config = await buildConfig({ upstream: { ...upstream, discovery_path: '/d' }, issuer: 'https://id.example.com/x', state: secrets }, dir)
  t.equal(config.routesByPath, false)
  t.same(config.issuers.map((issuer) => [issuer.issuer, issuer.discoveryPath, issuer.template]), [['https://id.example.com/x', '/d', false]])
  t.equal(config.issuers[0]!.clients, config.clients)
})

t.test('what is refused, each with its path', async (t) => {
  t.same(await problemsOf({ upstream, issuer: 'https://a.example', issuers: [{ issuer: 'https://a.example' }] }), ['issuer, issuers: give one of them (issuer is the one-issuer shorthand of issuers)'])
  t.same(await problemsOf({ upstream: { ...upstream, discovery_path: '/x', authorization_endpoint: '/y' }, issuers: [{ issuer: 'https://a.example' }] }), [
    'upstream.discovery_path: is per issuer when issuers is set (issuers[n].discovery_path)',
    'upstream.authorization_endpoint: is per issuer when issuers is set (issuers[n].authorization_endpoint)',
  ])
  const placeholder = '{tenant} is the only placeholder, and stands once for a whole path segment (https://host/realms/{tenant})'
  t.same(await problemsOf({ upstream, issuers: [{ issuer: 'https://a.example/realms/x{tenant}' }, { issuer: 'https://a.example/{tenant}/{tenant}' }, { issuer: 'https://a.example/realms/{realm}' }, { issuer: 'https://a.example/realms/{tenant}' }] }), [
    `issuers[0].issuer: ${placeholder}`,
    `issuers[1].issuer: ${placeholder}`,
    `issuers[2].issuer: ${placeholder}`,
  ])
  t.same(await problemsOf({ upstream, issuers: [{ issuer: 'https://{tenant}.example/' }] }), ['issuers[0].issuer: must match pattern "^https?://[^/?#{}]+(/[^?#]*)?$"'], 'never in the host')
  t.same(await problemsOf({ upstream, issuers: [] }), ['issuers: must NOT have fewer than 1 items'])
  t.same(await problemsOf({ upstream, public_origins: ['http://[broken'] }), ['public_origins[0]: is not a URL origin'])
  const none = await problemsOf({ upstream, issuers: [{ issuer: 'https://a.example', clients: { app1: { authorization_signed_response_alg: 'none' } } }] })
  t.match(none[0], /^issuers\[0\]\.clients\.app1\.authorization_signed_response_alg: client app1 is "none", which is refused/)
  t.equal(none.length, 1)
  t.same(await problemsOf({
    upstream,
    keys: './keys/signing.jwks.json',
    issuers: [{ issuer: 'https://a.example', clients: { hs: { authorization_signed_response_alg: 'HS256' }, enc: { authorization_encrypted_response_alg: 'A128KW' }, ed: { authorization_signed_response_alg: 'EdDSA' } } }],
  }), [
    'issuers[0].clients.hs.client_secret: is required for authorization_signed_response_alg HS256',
    'issuers[0].clients.enc.client_secret: is required for authorization_encrypted_response_alg A128KW (the key is derived from it)',
    'issuers[0].clients.ed: no key in "keys" can sign EdDSA; add a key with "alg": "EdDSA"',
  ])
})

t.test("an issuer's own keys: checked for its clients, published by it alone", async (t) => {
  const ed = await generatePrivateJwk('EdDSA')
  t.same(await problemsOf({
    upstream,
    default_signed_response_alg: 'ES256',
    keys: './keys/signing.jwks.json',
    clients: { app1: { authorization_signed_response_alg: 'PS256' } },
    issuers: [
      { issuer: 'https://id.example/a', keys: { keys: [ed] }, clients: { app2: { authorization_signed_response_alg: 'EdDSA' } } },
      { issuer: 'https://id.example/b', keys: './keys/missing.json' },
      { issuer: 'https://id.example/c', keys: { keys: [{ kty: 'oct' }] } },
    ],
  }), [
    `issuers[1].keys: cannot read a JWKS from ${join(dir, 'keys', 'missing.json')} (ENOENT: no such file or directory, open '${join(dir, 'keys', 'missing.json')}')`,
    'issuers[2].keys.keys[0].kty: must be RSA, EC or OKP (Ed25519)',
    'default_signed_response_alg: no key in "issuers[0].keys" can sign ES256; add a key with "alg": "ES256"',
    'clients.app1: no key in "issuers[0].keys" can sign PS256; add a key with "alg": "PS256"',
  ])
  const config = await buildConfig({
    upstream,
    default_signed_response_alg: 'EdDSA',
    state: secrets,
    issuers: [{ issuer: 'https://a.example', keys: { keys: [ed] } }, { issuer: 'https://b.example/{tenant}', keys: { keys: [ed] } }],
  }, dir)
  t.same(config.warnings, [], 'every issuer has keys of its own: no ephemeral shared keys, no warning')
  t.same(config.issuers[0]!.keyRing.algorithms, ['EdDSA'])
  t.same(config.keyRing.keys, [])
  const ephemeral = await buildConfig({ upstream, state: secrets, default_signed_response_alg: 'EdDSA', issuers: [{ issuer: 'https://id.example/a' }, { issuer: 'https://id.example/b', keys: { keys: [ed] }, clients: { x: { authorization_signed_response_alg: 'EdDSA' } } }] }, dir)
  t.equal(ephemeral.warnings.length, 1, 'the shared keys are ephemeral')
  t.same(ephemeral.keyRing.algorithms, ['EdDSA'])
  t.not(ephemeral.keyRing, ephemeral.issuers[1]!.keyRing)
  t.equal(ephemeral.issuers[1]!.clients.get('x')?.authorizationSignedResponseAlg, 'EdDSA')
})

t.test('environment overrides reach every issuer, its clients included; --check-config reports them', async (t) => {
  const file = join(dir, 'env.json')
  writeFileSync(file, JSON.stringify({ upstream, state: secrets, keys: './keys/signing.jwks.json', issuers: [{ issuer: 'https://a.example/realms/a' }, { issuer: 'https://a.example/realms/b', clients: { app1: {} } }] }))
  writeFileSync(join(dir, 'secret'), 'the-realm-b-secret-of-app1-from-a-file-0123\n')
  const config = await loadConfigFile(file, {
    JARM_GATEWAY_ISSUERS_1_CLIENTS_APP1_AUTHORIZATION_SIGNED_RESPONSE_ALG: 'HS256',
    JARM_GATEWAY_ISSUERS_1_CLIENTS_APP1_CLIENT_SECRET_FILE: join(dir, 'secret'),
    JARM_GATEWAY_ISSUERS_0_DISCOVERY_PATH: '/realms/a/.well-known/openid-configuration',
    JARM_GATEWAY_LIMITS_TENANTS: '5',
  })
  t.equal(config.issuers[1]!.clients.get('app1')?.clientSecret, 'the-realm-b-secret-of-app1-from-a-file-0123')
  t.equal(config.issuers[1]!.clients.get('app1')?.authorizationSignedResponseAlg, 'HS256')
  t.equal(config.issuers[0]!.discoveryPath, '/realms/a/.well-known/openid-configuration')
  t.equal(config.limits.tenants, 5)
  const replaced = await loadConfigFile(file, { JARM_GATEWAY_ISSUERS: JSON.stringify([{ issuer: 'https://z.example/realms/{tenant}' }]) })
  t.same(replaced.issuers.map((issuer) => issuer.issuer), ['https://z.example/realms/{tenant}'], 'the whole list replaced')
  const lines: string[] = []
  const out = { log: (line: string) => lines.push(line), error: (line: string) => lines.push(line) }
  const silent = createLogger({ level: 'silent' })
  t.equal(await main(['--config', file, '--check-config'], out, silent, { JARM_GATEWAY_ISSUERS_1_CLIENTS_APP1_AUTHORIZATION_SIGNED_RESPONSE_ALG: 'HS256' }), 1)
  t.match(lines[0], /issuers\[1\]\.clients\.app1\.client_secret: is required for authorization_signed_response_alg HS256/)
  t.equal(await main(['--config', file, '--check-config'], out, silent, { JARM_GATEWAY_ISSUERS_5_ISSUER: 'ignored: no issuer at index 5' }), 0, 'only the issuers listed are overridden')
})
