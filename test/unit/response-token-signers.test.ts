// The response token factory prepares its signers (and their encoded headers) once at start-up:
// every client still gets its own algorithm and key, checked with jose as an independent verifier.
import t from 'tap'
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose'
import { buildConfig } from '../../src/config/load-config.js'
import { ResponseTokenFactory } from '../../src/jarm/response-token.js'
import { generatePrivateJwk, KeyRing } from '../../src/keys/signing-keys.js'

const SECRET = 'hs-client-secret-that-is-at-least-32-characters-long'
const es = await generatePrivateJwk('ES256')
const ed = await generatePrivateJwk('EdDSA')
const config = await buildConfig({
  upstream: { url: 'http://127.0.0.1:9' },
  keys: { keys: [es, ed] },
  clients: { hs: { authorization_signed_response_alg: 'HS256', client_secret: SECRET }, ed: { authorization_signed_response_alg: 'EdDSA' } },
  default_signed_response_alg: 'ES256',
  state: { secrets: ['a-secret-for-sealing-flow-state-0123456789'] },
}, process.cwd())
const now = 1_800_000_000_000
const factory = new ResponseTokenFactory(config, () => now)
const publicOf = ({ d: _d, ...jwk }: Record<string, unknown>) => importJWK(jwk)

const token = (clientId: string, state?: string): string => factory.create({ issuer: 'https://id.example.com', clientId, state, parameters: [['code', 'c1']] })

t.test('an HS256 client is signed with its own client_secret, and no kid', async (t) => {
  const jwt = token('hs', 's1')
  t.same(decodeProtectedHeader(jwt), { alg: 'HS256' })
  const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { currentDate: new Date(now), audience: 'hs', issuer: 'https://id.example.com' })
  t.equal(payload['code'], 'c1')
  t.equal(payload['state'], 's1')
})

t.test('a client with an asymmetric algorithm gets the key for it, with its kid', async (t) => {
  const jwt = token('ed')
  t.same(decodeProtectedHeader(jwt), { alg: 'EdDSA', kid: ed.kid })
  await t.resolves(jwtVerify(jwt, await publicOf(ed as Record<string, unknown>), { currentDate: new Date(now), audience: 'ed' }))
})

t.test('an unlisted client gets the default algorithm; the same header is reused token after token', async (t) => {
  const first = token('unlisted-client')
  const second = token('unlisted-client', 'other')
  t.same(decodeProtectedHeader(first), { alg: 'ES256', kid: es.kid })
  t.equal(first.split('.')[0], second.split('.')[0])
  t.not(first.split('.')[1], second.split('.')[1])
  for (const jwt of [first, second]) await t.resolves(jwtVerify(jwt, await publicOf(es as Record<string, unknown>), { currentDate: new Date(now), audience: 'unlisted-client' }))
})

t.test('a configuration whose key ring cannot serve the algorithm fails with signing_failed, not a crash', async (t) => {
  // The config loader refuses such a configuration; this guards the factory on its own.
  const broken = new ResponseTokenFactory({ ...config, keyRing: new KeyRing([]) }, () => now)
  t.throws(() => broken.create({ issuer: 'https://id.example.com', clientId: 'unlisted-client', state: undefined, parameters: [] }), { code: 'signing_failed', message: 'no signing key serves ES256' })
})
