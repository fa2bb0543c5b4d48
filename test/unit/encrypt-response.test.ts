// Secret-derived keys per the OIDC convention (written out here independently), and the JWE header.
import t from 'tap'
import { createHash } from 'node:crypto'
import { compactDecrypt, decodeProtectedHeader } from 'jose'
import { ENCRYPTION_ENCS, encryptResponse, isSecretEncryptionAlg, secretDerivedKey } from '../../src/jarm/encrypt-response.js'

const SECRET = 'a-client-secret-that-is-long-enough-0123456789'
const BYTES: Record<string, number> = { 'A128CBC-HS256': 32, 'A192CBC-HS384': 48, 'A256CBC-HS512': 64, A128GCM: 16, A192GCM: 24, A256GCM: 32 }

function expected (bytes: number): Buffer {
  const hash = bytes <= 32 ? 'sha256' : bytes <= 48 ? 'sha384' : 'sha512'
  return createHash(hash).update(SECRET).digest().subarray(0, bytes)
}

t.test('A128KW and A256KW: SHA-256 of the secret, truncated', async (t) => {
  t.same(Buffer.from(secretDerivedKey(SECRET, 'A128KW', 'A256GCM')), expected(16))
  t.same(Buffer.from(secretDerivedKey(SECRET, 'A256KW', 'A128GCM')), expected(32))
  t.ok(isSecretEncryptionAlg('dir'))
  t.notOk(isSecretEncryptionAlg('RSA-OAEP'))
})

for (const enc of ENCRYPTION_ENCS) {
  t.test(`dir with ${enc}: a ${BYTES[enc]}-byte key, and a JWE jose opens with it`, async (t) => {
    const key = secretDerivedKey(SECRET, 'dir', enc)
    t.same(Buffer.from(key), expected(BYTES[enc]!))
    const jwe = await encryptResponse('a.b.c', 'dir', enc, { key })
    t.same(decodeProtectedHeader(jwe), { alg: 'dir', enc, cty: 'JWT' })
    t.equal(new TextDecoder().decode((await compactDecrypt(jwe, expected(BYTES[enc]!))).plaintext), 'a.b.c')
  })
}
