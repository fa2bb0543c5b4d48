// The command's options that end without serving: usage errors, key generation, config checks
// (with the environment applied), each with its exit code.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.js'
import { createLogger } from '../../src/observability/logger.js'

const silent = createLogger({ level: 'silent' })

const dir = await mkdtemp(join(tmpdir(), 'jarm-gateway-cli-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const configFile = join(dir, 'gateway.config.json')
await writeFile(configFile, JSON.stringify({ upstream: { url: 'http://127.0.0.1:9000' }, default_signed_response_alg: 'ES256' }))

function capture (): { out: { log: (line: string) => void, error: (line: string) => void }, lines: string[] } {
  const lines: string[] = []
  return { lines, out: { log: (line) => lines.push(`log: ${line}`), error: (line) => lines.push(`error: ${line}`) } }
}

t.test('usage: an unknown option exits 2 with the usage; --help exits 0', async (t) => {
  const bad = capture()
  t.equal(await main(['--nope'], bad.out, silent, {}), 2)
  t.match(bad.lines[0], /^error: Unknown option '--nope'[\s\S]*usage: jarm-gateway/)
  const help = capture()
  t.equal(await main(['--help'], help.out, silent, {}), 0)
  t.match(help.lines[0], /--health-check/)
})

t.test('--generate-key prints a private JWKS for the algorithm, refuses an unknown one', async (t) => {
  const ok = capture()
  t.equal(await main(['--generate-key', 'ES256'], ok.out, silent, {}), 0)
  const jwks = JSON.parse(ok.lines[0]!.slice('log: '.length)) as { keys: Array<Record<string, string>> }
  t.same({ kty: jwks.keys[0]!['kty'], crv: jwks.keys[0]!['crv'], alg: jwks.keys[0]!['alg'] }, { kty: 'EC', crv: 'P-256', alg: 'ES256' })
  t.ok(jwks.keys[0]!['d'], 'private')
  const bad = capture()
  t.equal(await main(['--generate-key', 'HS256'], bad.out, silent, {}), 2)
  t.match(bad.lines[0], /^error: --generate-key: HS256 is not one of RS256/)
})

t.test('--check-config: valid with its warnings (exit 0); every problem, from file or environment (exit 1)', async (t) => {
  const valid = capture()
  t.equal(await main(['--check-config'], valid.out, silent, { JARM_GATEWAY_CONFIG: configFile }), 0, 'JARM_GATEWAY_CONFIG names the file')
  t.equal(valid.lines[0], `log: ${configFile}: configuration is valid`)
  t.match(valid.lines.slice(1).join('\n'), /warning: no "keys" configured[\s\S]*warning: no "state.secrets" configured/)
  const invalid = capture()
  t.equal(await main(['--config', configFile, '--check-config'], invalid.out, silent, { JARM_GATEWAY_LISTEN_PORT: 'x', JARM_GATEWAY_RESPONSE_TTL_SECONDS: '5' }), 1)
  t.match(invalid.lines[0], /JARM_GATEWAY_LISTEN_PORT: must be an integer/)
  const schemaProblem = capture()
  t.equal(await main(['--config', configFile, '--check-config'], schemaProblem.out, silent, { JARM_GATEWAY_RESPONSE_TTL_SECONDS: '5' }), 1)
  t.match(schemaProblem.lines[0], /response_ttl_seconds: must be >= 10/)
})
