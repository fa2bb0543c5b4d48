// The README's configuration example, with its encrypted client, loads (its key file swapped for
// an inline key, since the example points at a file a reader makes with --generate-key).
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { buildConfig } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'

t.test('the README example loads and app3 is encrypted with ECDH-ES A256GCM', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const example = JSON.parse(/<!-- config-example -->\s*```json\n([\s\S]*?)```/.exec(readme)![1]!) as Record<string, unknown>
  example['keys'] = { keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('RS256'), await generatePrivateJwk('PS256')] }
  const config = await buildConfig(example, process.cwd())
  const app3 = config.clients.get('app3')!
  t.equal(app3.encryption?.alg, 'ECDH-ES')
  t.equal(app3.encryption?.enc, 'A256GCM')
  t.same(app3.redirectUris, ['https://app3.example.com/callback'])
  t.equal(config.unlistedClients, 'sign')
})
