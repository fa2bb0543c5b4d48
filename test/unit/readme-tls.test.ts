// The README's "Fronting an HTTPS legacy server" section is checked: its configuration block loads
// and validates against certificates made for it at the paths it names, and the Keycloak and WSO2
// settings read the header the block forwards. The error table lists every error code.
import t from 'tap'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildConfig } from '../../src/config/load-config.js'
import { ERRORS } from '../../src/errors.js'
import { TEST_KEYS } from '../helpers/stack.js'
import { createTestPki } from '../helpers/test-pki.js'

const readme = readFileSync('README.md', 'utf8')
const block = (marker: string): string => {
  const match = new RegExp(`<!-- ${marker} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(readme)
  if (match === null) throw new Error(`no ${marker} block in the README`)
  return match[1]!
}

t.test('the TLS example validates, with every file where it says, and its header is what Keycloak and WSO2 read', async (t) => {
  t.match(readme, /^## Fronting an HTTPS legacy server$/m)
  const example = JSON.parse(block('tls-example')) as { listen: { tls: Record<string, string> }, upstream: { tls: Record<string, string> }, keys: string }
  const pki = createTestPki()
  t.teardown(() => pki.remove())
  const ca = pki.authority('Example CA')
  const gateway = ca.issue('id.example.com', { dns: ['id.example.com'] })
  const client = ca.issue('jarm-gateway', { usage: 'client' })
  mkdirSync(join(pki.dir, 'tls'))
  mkdirSync(join(pki.dir, 'keys'))
  const place = (relative: string, from: string): void => copyFileSync(from, join(pki.dir, relative))
  place(example.listen.tls['cert_file']!, gateway.certFile)
  place(example.listen.tls['key_file']!, gateway.keyFile)
  place(example.listen.tls['client_ca_file']!, ca.certFile)
  place(example.upstream.tls['ca_file']!, ca.certFile)
  place(example.upstream.tls['cert_file']!, client.certFile)
  place(example.upstream.tls['key_file']!, client.keyFile)
  writeFileSync(join(pki.dir, example.keys), JSON.stringify({ keys: TEST_KEYS.keys.filter((k) => k.alg === 'RS256') }))
  const config = await buildConfig(example, pki.dir)
  t.equal(config.listen.tls?.clientCertificates, 'optional')
  t.equal(config.upstream.tls?.servername, 'idp.internal')
  const header = config.listen.tls!.clientCertificateHeader!
  t.match(block('keycloak-example'), new RegExp(`--spi-x509cert-lookup-nginx-ssl-client-cert=${header}\\b`), 'Keycloak reads the header')
  t.match(block('keycloak-example'), /--spi-x509cert-lookup-provider=nginx/, 'with the nginx lookup (URL-encoded PEM)')
  t.match(block('wso2-example'), new RegExp(`^client_certificate_header = "${header}"$`, 'm'), 'WSO2 reads the header')
})

t.test('the error table has a row for every code, with its status', async (t) => {
  const table = readme.slice(readme.indexOf('## Error pages'), readme.indexOf('## Libraries, and why'))
  for (const [code, definition] of Object.entries(ERRORS)) {
    const row = table.split('\n').find((line) => line.startsWith(`| \`${code}\``) || line.includes(`\`${code}\`, `) || line.includes(`, \`${code}\``))
    t.ok(row, `${code} has a row`)
    t.match(row, `| ${definition.status} |`, `${code}: ${definition.status}`)
  }
})
