// Every signing algorithm through the real legacy server: RS/PS/ES 256/384/512 and EdDSA judged by
// oauth4webapi (the issuer's JWKS fetched through the gateway), HS256/384/512 keyed from each
// client's secret and checked with jose directly (oauth4webapi refuses HS*, rightly, for JARM).
import t from 'tap'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { authorizationRequest, discover, judge, redeem } from '../helpers/judge.js'
import { legacyClient, legacyWith, REDIRECT_URI, secretOf } from '../helpers/response-security.js'
import { callbackParameters } from '../helpers/browser-agent.js'
import { startStack } from '../helpers/stack.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const
const SYMMETRIC = ['HS256', 'HS384', 'HS512'] as const

// One RSA key pair serves the six RSA algorithms (a key per algorithm, as the gateway wants, each
// with its own kid); EC and Ed25519 keys are made per algorithm.
const rsa = await generatePrivateJwk('RS256')
const keys = [
  ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'].map((alg) => ({ ...rsa, alg, kid: `rsa-${alg}` })),
  await generatePrivateJwk('ES256'), await generatePrivateJwk('ES384'), await generatePrivateJwk('ES512'), await generatePrivateJwk('EdDSA'),
]
const clientIds = [...ASYMMETRIC, ...SYMMETRIC].map((alg) => alg.toLowerCase())
const clients = Object.fromEntries([...ASYMMETRIC, ...SYMMETRIC].map((alg) => [alg.toLowerCase(), {
  authorization_signed_response_alg: alg,
  ...(alg.startsWith('HS') ? { client_secret: secretOf(alg.toLowerCase()) } : {}),
}]))

const stack = await startStack({
  config: { keys: { keys }, clients },
  legacy: legacyWith(clientIds.map((id) => legacyClient(id))),
})
t.teardown(() => stack.close())
const as = await discover(stack.issuer)

t.test('discovery lists exactly what the gateway signs with', async (t) => {
  t.same(as.authorization_signing_alg_values_supported, [...ASYMMETRIC, ...SYMMETRIC])
  t.same(as['authorization_encryption_alg_values_supported'], ['RSA-OAEP', 'RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW', 'A128KW', 'A256KW', 'dir'])
  t.same(as['authorization_encryption_enc_values_supported'], ['A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512', 'A128GCM', 'A192GCM', 'A256GCM'])
})

for (const alg of ASYMMETRIC) {
  t.test(`${alg}: signed with the key for ${alg}, kid in the header, judged by oauth4webapi, code redeemed`, async (t) => {
    const clientId = alg.toLowerCase()
    const client = { client_id: clientId, authorization_signed_response_alg: alg }
    const request = await authorizationRequest(as, { client_id: clientId, response_mode: 'jwt' })
    const parameters = callbackParameters(await new BrowserAgent().run(request.url))
    const header = decodeProtectedHeader(parameters.get('response')!)
    t.equal(header.alg, alg)
    t.equal(header.kid, keys.find((key) => key.alg === alg)!.kid)
    const callback = await judge(as, client, parameters, request.state!)
    const tokens = await redeem(as, client, secretOf(clientId), callback, REDIRECT_URI, request.verifier, request.nonce)
    t.ok(tokens.access_token)
  })
}

for (const alg of SYMMETRIC) {
  t.test(`${alg}: keyed from the client secret, verified with jose, no kid`, async (t) => {
    const clientId = alg.toLowerCase()
    const request = await authorizationRequest(as, { client_id: clientId, response_mode: 'form_post.jwt' })
    const parameters = callbackParameters(await new BrowserAgent().run(request.url))
    const { payload, protectedHeader } = await jwtVerify(parameters.get('response')!, new TextEncoder().encode(secretOf(clientId)), {
      algorithms: [alg], issuer: stack.issuer, audience: clientId,
    })
    t.same(protectedHeader, { alg })
    t.equal(payload['state'], request.state)
    t.type(payload['code'], 'string')
    await t.rejects(jwtVerify(parameters.get('response')!, new TextEncoder().encode(secretOf('hs256') + 'x')), 'another secret does not verify it')
  })
}
