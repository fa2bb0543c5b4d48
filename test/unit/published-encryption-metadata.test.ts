// Discovery lists the encryption algorithms only when the gateway hands them in.
import t from 'tap'
import { publishDiscovery } from '../../src/metadata/published-metadata.js'

t.test('encryption lists are added when given and absent otherwise', async (t) => {
  const base = { issuer: undefined, responseModes: ['jwt'], signingAlgs: ['ES256'] }
  const without = publishDiscovery({ issuer: 'https://id.example.com' }, base)
  t.notOk('authorization_encryption_alg_values_supported' in without)
  t.notOk('authorization_encryption_enc_values_supported' in without)
  const withLists = publishDiscovery({ issuer: 'https://id.example.com' }, { ...base, encryptionAlgs: ['RSA-OAEP'], encryptionEncs: ['A128GCM'] })
  t.same(withLists['authorization_encryption_alg_values_supported'], ['RSA-OAEP'])
  t.same(withLists['authorization_encryption_enc_values_supported'], ['A128GCM'])
})
