// Nested JARM responses through the real legacy server, one client per encryption family: signed,
// then encrypted to the client (cty JWT, the recipient kid). Decrypted and judged by openid-client
// (enableDecryptingResponses, which also redeems the code) and by oauth4webapi with a jose
// jweDecrypt; the secret-derived keys (A128KW, A256KW, dir) are derived here independently, as the
// OIDC convention says: SHA-256/384/512 of the secret, truncated to the key length.
import t from 'tap'
import { createHash } from 'node:crypto'
import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair, type CryptoKey } from 'jose'
import * as openid from 'openid-client'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { authorizationRequest, discover, judgeHybrid, oauth, redeem } from '../helpers/judge.js'
import { legacyClient, legacyWith, REDIRECT_URI, secretOf, startJwksServer } from '../helpers/response-security.js'
import { callbackParameters } from '../helpers/browser-agent.js'
import { startStack } from '../helpers/stack.js'

async function clientKeyPair (alg: string, kid: string, options: Record<string, unknown> = {}): Promise<{ privateKey: CryptoKey, jwk: Record<string, unknown> }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options })
  return { privateKey, jwk: { ...await exportJWK(publicKey), kid, use: 'enc' } }
}

const rsaOaep = await clientKeyPair('RSA-OAEP', 'rsa-oaep-key')
const rsaOaep256 = await clientKeyPair('RSA-OAEP-256', 'rsa-oaep-256-key')
const p256 = await clientKeyPair('ECDH-ES', 'p256-key', { crv: 'P-256' })
const p384 = await clientKeyPair('ECDH-ES+A128KW', 'p384-key', { crv: 'P-384' })
const x25519 = await clientKeyPair('ECDH-ES+A256KW', 'x25519-key', { crv: 'X25519' })
// A signing key first in the set: it must be skipped (use: sig), not encrypted to.
const remoteSet = await startJwksServer({ keys: [{ ...rsaOaep256.jwk, kid: 'a-signing-key', use: 'sig' }, rsaOaep256.jwk, p384.jwk] })
const wrongKeys = await startJwksServer({ keys: [rsaOaep.jwk] })
const deadServer = await startJwksServer({ keys: [] })
await deadServer.close()

/** How each client wants its responses, and the private key (or derived secret) that opens them. */
const CASES = {
  'enc-rsa-oaep': { settings: { authorization_encrypted_response_alg: 'RSA-OAEP', jwks: { keys: [rsaOaep.jwk] } }, enc: 'A128CBC-HS256', kid: 'rsa-oaep-key' },
  'enc-rsa-oaep-256': { settings: { authorization_encrypted_response_alg: 'RSA-OAEP-256', authorization_encrypted_response_enc: 'A256GCM', jwks_uri: remoteSet.url }, enc: 'A256GCM', kid: 'rsa-oaep-256-key' },
  'enc-ecdh-es': { settings: { authorization_encrypted_response_alg: 'ECDH-ES', authorization_encrypted_response_enc: 'A128GCM', jwks: { keys: [p256.jwk] } }, enc: 'A128GCM', kid: 'p256-key' },
  'enc-ecdh-es-a128kw': { settings: { authorization_encrypted_response_alg: 'ECDH-ES+A128KW', authorization_encrypted_response_enc: 'A192CBC-HS384', jwks_uri: remoteSet.url }, enc: 'A192CBC-HS384', kid: 'p384-key' },
  'enc-ecdh-es-a256kw': { settings: { authorization_encrypted_response_alg: 'ECDH-ES+A256KW', authorization_encrypted_response_enc: 'A256CBC-HS512', jwks: { keys: [x25519.jwk] } }, enc: 'A256CBC-HS512', kid: 'x25519-key' },
  'enc-a128kw': { settings: { authorization_encrypted_response_alg: 'A128KW', authorization_encrypted_response_enc: 'A192GCM' }, enc: 'A192GCM', kid: undefined },
  'enc-a256kw': { settings: { authorization_encrypted_response_alg: 'A256KW' }, enc: 'A128CBC-HS256', kid: undefined },
  'enc-dir': { settings: { authorization_encrypted_response_alg: 'dir', authorization_encrypted_response_enc: 'A256CBC-HS512' }, enc: 'A256CBC-HS512', kid: undefined },
  'enc-dir-gcm': { settings: { authorization_encrypted_response_alg: 'dir', authorization_encrypted_response_enc: 'A128GCM' }, enc: 'A128GCM', kid: undefined },
} as const
type CaseId = keyof typeof CASES

/** The OIDC Core §10.2 convention, written out independently of the gateway's code. */
function derived (secret: string, bytes: number): Uint8Array {
  const hash = bytes <= 32 ? 'sha256' : bytes <= 48 ? 'sha384' : 'sha512'
  return new Uint8Array(createHash(hash).update(secret).digest().subarray(0, bytes))
}

const DECRYPTION_KEYS: Record<CaseId, CryptoKey | Uint8Array> = {
  'enc-rsa-oaep': rsaOaep.privateKey,
  'enc-rsa-oaep-256': rsaOaep256.privateKey,
  'enc-ecdh-es': p256.privateKey,
  'enc-ecdh-es-a128kw': p384.privateKey,
  'enc-ecdh-es-a256kw': x25519.privateKey,
  'enc-a128kw': derived(secretOf('enc-a128kw'), 16),
  'enc-a256kw': derived(secretOf('enc-a256kw'), 32),
  'enc-dir': derived(secretOf('enc-dir'), 64),
  'enc-dir-gcm': derived(secretOf('enc-dir-gcm'), 16),
}

const clients: Record<string, unknown> = {
  'no-key': { authorization_encrypted_response_alg: 'ECDH-ES', jwks_uri: wrongKeys.url },
  'dead-uri': { authorization_encrypted_response_alg: 'RSA-OAEP', jwks_uri: deadServer.url },
}
for (const [id, { settings }] of Object.entries(CASES)) clients[id] = { ...settings, client_secret: secretOf(id) }

const stack = await startStack({
  config: { clients },
  legacy: legacyWith([...Object.keys(CASES), 'no-key', 'dead-uri'].map((id) => legacyClient(id))),
})
t.teardown(async () => {
  await stack.close()
  await remoteSet.close()
  await wrongKeys.close()
})
const as = await discover(stack.issuer)

function jweDecrypt (key: CryptoKey | Uint8Array): (jwe: string) => Promise<string> {
  return async (jwe) => new TextDecoder().decode((await compactDecrypt(jwe, key)).plaintext)
}

for (const [clientId, { settings, enc, kid }] of Object.entries(CASES) as Array<[CaseId, typeof CASES[CaseId]]>) {
  t.test(`${settings.authorization_encrypted_response_alg} ${enc}: a nested JWT, judged by oauth4webapi after decryption, code redeemed`, async (t) => {
    const request = await authorizationRequest(as, { client_id: clientId, response_mode: 'fragment.jwt' })
    const parameters = callbackParameters(await new BrowserAgent().run(request.url))
    const jwe = parameters.get('response')!
    t.equal(jwe.split('.').length, 5, 'a JWE in compact serialisation')
    const header = decodeProtectedHeader(jwe)
    t.equal(header.alg, settings.authorization_encrypted_response_alg)
    t.equal(header.enc, enc)
    t.equal(header.cty, 'JWT')
    t.equal(header.kid, kid, 'the recipient key kid (none for a secret-derived key)')
    const inner = await jweDecrypt(DECRYPTION_KEYS[clientId])(jwe)
    t.equal(decodeProtectedHeader(inner).alg, 'RS256', 'signed first, with the default algorithm')
    const client = { client_id: clientId }
    const callback = await oauth.validateJwtAuthResponse(as, client, parameters, request.state!, { [oauth.allowInsecureRequests]: true, [oauth.jweDecrypt]: jweDecrypt(DECRYPTION_KEYS[clientId]) })
    await redeem(as, client, secretOf(clientId), callback, REDIRECT_URI, request.verifier, request.nonce)
    await t.rejects(oauth.validateJwtAuthResponse(as, client, parameters, request.state!, { [oauth.allowInsecureRequests]: true }), 'no plaintext: a client that cannot decrypt cannot read it')
  })
}

for (const [clientId, key, kid] of [['enc-rsa-oaep', rsaOaep.privateKey, 'rsa-oaep-key'], ['enc-ecdh-es', p256.privateKey, 'p256-key']] as const) {
  t.test(`${clientId}: openid-client with enableDecryptingResponses decrypts, validates and redeems (query.jwt)`, async (t) => {
    const config = await openid.discovery(new URL(stack.issuer), clientId, { redirect_uris: [REDIRECT_URI] }, openid.ClientSecretBasic(secretOf(clientId)), { execute: [openid.allowInsecureRequests] })
    openid.enableDecryptingResponses(config, undefined, { key, kid })
    openid.useJwtResponseMode(config)
    const verifier = openid.randomPKCECodeVerifier()
    const state = openid.randomState()
    const url = openid.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', response_mode: 'query.jwt', state,
      code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    const arrival = await new BrowserAgent().run(url)
    t.equal(arrival.kind, 'redirect')
    if (arrival.kind !== 'redirect') return
    const tokens = await openid.authorizationCodeGrant(config, arrival.url, { pkceCodeVerifier: verifier, expectedState: state })
    t.ok(tokens.access_token)
    t.ok(tokens.id_token)
  })
}

t.test('query.jwt with code id_token is allowed for a client whose responses are encrypted', async (t) => {
  const request = await authorizationRequest(as, { client_id: 'enc-rsa-oaep-256', response_mode: 'query.jwt', response_type: 'code id_token' })
  const arrival = await new BrowserAgent().run(request.url)
  t.equal(arrival.kind, 'redirect')
  if (arrival.kind !== 'redirect') return
  t.same([...arrival.url.searchParams.keys()], ['response'])
  t.equal(arrival.url.hash, '')
  // oauth4webapi's JARM check stops at an ID token (no hybrid JARM), so the hybrid judge is used.
  const callback = await judgeHybrid(as, { client_id: 'enc-rsa-oaep-256' }, arrival.url.searchParams, request, jweDecrypt(rsaOaep256.privateKey))
  t.type(callback.get('code'), 'string')
})

for (const [clientId, why] of [['no-key', 'a jwks_uri without a key for the algorithm'], ['dead-uri', 'a jwks_uri that cannot be reached']] as const) {
  t.test(`${why}: an error page, never a plaintext response`, async (t) => {
    const request = await authorizationRequest(as, { client_id: clientId, response_mode: 'query.jwt' })
    const arrival = await new BrowserAgent().run(request.url)
    t.equal(arrival.kind, 'page')
    if (arrival.kind !== 'page') return
    t.equal(arrival.status, 502)
    t.match(arrival.text, /encryption_key_unavailable/)
    t.match(arrival.text, new RegExp(`client ${clientId} publishes no usable key for (ECDH-ES|RSA-OAEP) at its jwks_uri`))
    t.notMatch(arrival.text, /response=|code=/)
  })
}

t.test('the remote key set was fetched once per client and then cached', async (t) => {
  t.equal(remoteSet.fetches, 2)
  t.ok(stack.logs.some((line) => line['event'] === 'jarm.response' && line['enc'] === 'RSA-OAEP-256 A256GCM'))
})
