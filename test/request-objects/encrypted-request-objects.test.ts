// Request objects encrypted to the gateway (RFC 9101 §6.1): a JWE is decrypted with the gateway's
// `use: "enc"` keys, within the allowed alg/enc lists, and must hold a signed object (nested JWS),
// which is then verified like any other. jose encrypts, as a client would.
import t, { type Test } from 'tap'
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { exportJWK } from 'jose'
import { KeyRing, loadSigningKeys, type DecryptionKey } from '../../src/keys/signing-keys.js'
import { verifyRequestObject, type RequestObjectDecryption } from '../../src/request-objects/verify-request-object.js'
import { CLIENT_SECRET, clientKeyPair, clientWith, encryptedObject, goodClaims, policyWith, signedObject } from '../helpers/request-objects.js'

async function privateJwk (type: 'rsa' | 'ec' | 'x25519', kid: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const options = type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve: 'P-256' } : {}
  const { privateKey } = generateKeyPairSync(type as 'rsa', options as never) as unknown as { privateKey: KeyObject }
  return { ...await exportJWK(privateKey), kid, use: 'enc', ...extra }
}

const loaded = await loadSigningKeys({
  keys: [
    await privateJwk('rsa', 'gw-rsa', { alg: 'RSA-OAEP-256' }),
    await privateJwk('ec', 'gw-ec'),
    await privateJwk('x25519', 'gw-x25519', { alg: 'ECDH-ES+A256KW' }),
  ],
}, 'keys')
t.same(loaded.problems, [])
const ring = new KeyRing(loaded.keys, loaded.decryptionKeys)
const decryption: RequestObjectDecryption = { keys: ring.decryptionKeys, algs: ring.requestObjectEncryptionAlgs, encs: ring.requestObjectEncryptionEncs }
const policy = policyWith({ decryption })
const es256 = await clientKeyPair('ES256')
const client = clientWith([es256.publicJwk], { clientSecret: CLIENT_SECRET })
const byKid = (kid: string): DecryptionKey => ring.decryptionKeys.find((key) => key.kid === kid)!
/** What a client encrypts to: the public JWK the gateway publishes. */
const publicOf = (kid: string): ReturnType<typeof createPublicKey> => createPublicKey({ key: byKid(kid).publicJwk as never, format: 'jwk' })

const signed = (): Promise<string> => signedObject(goodClaims(), es256.privateKey, { alg: 'ES256', kid: es256.kid, typ: 'oauth-authz-req+jwt' })

async function refused (t: Test, jwt: string, message: string, what: string, using = policy): Promise<void> {
  await t.rejects(verifyRequestObject(jwt, client, using), { code: 'invalid_request_object', message }, what)
}

t.test('RSA-OAEP-256 + A256GCM and ECDH-ES + A256GCM: decrypted, then verified', async (t) => {
  t.same(decryption.algs, ['RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A256KW'])
  for (const [kid, alg] of [['gw-rsa', 'RSA-OAEP-256'], ['gw-ec', 'ECDH-ES'], ['gw-x25519', 'ECDH-ES+A256KW']] as const) {
    const jwe = await encryptedObject(await signed(), publicOf(kid), { alg, enc: 'A256GCM', kid })
    const verified = await verifyRequestObject(jwe, client, policy)
    t.equal(verified.encrypted, true, alg)
    t.equal(verified.alg, 'ES256', `${alg}: the inner signature's alg`)
    t.equal(new Map(verified.parameters).get('response_mode'), 'jwt')
  }
  const noKid = await encryptedObject(await signed(), publicOf('gw-rsa'), { alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256' })
  t.equal((await verifyRequestObject(noKid, client, policy)).encrypted, true, 'no kid: the keys of the alg are tried')
})

t.test('what the JWE header asks for must be allowed and be a key of the gateway', async (t) => {
  const jws = await signed()
  await refused(t, await encryptedObject(jws, publicOf('gw-rsa'), { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gw-rsa' }), 'request object is encrypted, and the gateway takes no encrypted request objects', 'no decryption configured', policyWith())
  await refused(t, await encryptedObject(jws, publicOf('gw-rsa'), { alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'gw-rsa' }), 'request object encryption alg RSA-OAEP is not allowed; expected one of RSA-OAEP-256, ECDH-ES, ECDH-ES+A256KW', 'an alg not offered')
  await refused(t, await encryptedObject(jws, publicOf('gw-rsa'), { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gw-rsa' }), 'request object encryption enc A256GCM is not allowed; expected one of A128GCM', 'an enc not allowed', policyWith({ decryption: { ...decryption, encs: ['A128GCM'] } }))
  await refused(t, await encryptedObject(jws, publicOf('gw-rsa'), { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gw-ec' }), 'request object is encrypted to no key of the gateway for RSA-OAEP-256 with kid gw-ec', 'a kid of another alg')
  await refused(t, await encryptedObject(jws, publicOf('gw-rsa'), { alg: 'RSA-OAEP-256', enc: 'A256GCM' }), 'request object is encrypted to no key of the gateway for RSA-OAEP-256', 'no key for the alg', policyWith({ decryption: { ...decryption, keys: [byKid('gw-ec')] } }))
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
  await refused(t, await encryptedObject(jws, stranger, { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gw-rsa' }), 'request object cannot be decrypted with the gateway\'s keys', 'encrypted to another key under the gateway\'s kid')
  // Headers made by hand: no alg, no enc.
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  await refused(t, `${part({ enc: 'A256GCM' })}.a.b.c.d`, 'request object encryption alg undefined is not allowed; expected one of RSA-OAEP-256, ECDH-ES, ECDH-ES+A256KW', 'no alg')
  await refused(t, `${part({ alg: 'ECDH-ES' })}.a.b.c.d`, 'request object encryption enc undefined is not allowed; expected one of A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM, A256GCM', 'no enc')
  await refused(t, '!!!.a.b.c.d', 'request object has no readable jose header', 'no header')
})

t.test('a JWE must hold a signed object: encryption alone proves nothing about who sent it', async (t) => {
  const claims = JSON.stringify(goodClaims())
  await refused(t, await encryptedObject(claims, publicOf('gw-ec'), { alg: 'ECDH-ES', enc: 'A256GCM', kid: 'gw-ec' }), 'an encrypted request object must hold a signed jwt (a nested jws)', 'claims encrypted but not signed')
  const nested = await encryptedObject(await encryptedObject(await signed(), publicOf('gw-ec'), { alg: 'ECDH-ES', enc: 'A256GCM' }), publicOf('gw-ec'), { alg: 'ECDH-ES', enc: 'A256GCM' })
  await refused(t, nested, 'an encrypted request object must hold a signed jwt (a nested jws)', 'a JWE inside a JWE')
  const unsignedInside = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(claims).toString('base64url')}.`
  await refused(t, await encryptedObject(unsignedInside, publicOf('gw-ec'), { alg: 'ECDH-ES', enc: 'A256GCM' }), 'request object alg none is refused: a request object must be signed', 'alg none inside')
  const wrongSigner = await signedObject(goodClaims(), (await clientKeyPair('ES256')).privateKey, { alg: 'ES256', kid: es256.kid })
  await refused(t, await encryptedObject(wrongSigner, publicOf('gw-ec'), { alg: 'ECDH-ES', enc: 'A256GCM' }), 'request object signature does not verify with the keys of client app1', 'signed by someone else')
})
