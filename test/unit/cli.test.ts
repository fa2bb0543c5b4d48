import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { main } from '../../src/cli/main.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen } from '../../src/server.js'
import { startLegacyServer } from '../../demo/legacy-server.js'

function capture (): { out: { log: (line: string) => void, error: (line: string) => void }, logged: string[], errors: string[] } {
  const logged: string[] = []
  const errors: string[] = []
  return { out: { log: (line) => logged.push(line), error: (line) => errors.push(line) }, logged, errors }
}

const dir = mkdtempSync(join(tmpdir(), 'jarm-cli-'))
const silent = createLogger({ level: 'silent' })

t.test('--help and bad arguments', async (t) => {
  const help = capture()
  t.equal(await main(['--help'], help.out, silent), 0)
  t.match(help.logged[0], /^usage: jarm-gateway/)
  const bad = capture()
  t.equal(await main(['--nope'], bad.out, silent), 2)
  t.match(bad.errors[0], /Unknown option '--nope'[\s\S]*usage:/)
})

t.test('--generate-key prints a private JWKS the config accepts', async (t) => {
  const run = capture()
  t.equal(await main(['--generate-key', 'PS384'], run.out, silent), 0)
  const jwks = JSON.parse(run.logged[0]!) as { keys: Array<Record<string, string>> }
  t.equal(jwks.keys[0]!['alg'], 'PS384')
  t.ok(jwks.keys[0]!['d'])
  writeFileSync(join(dir, 'keys.json'), run.logged[0]!)
  writeFileSync(join(dir, 'ps.json'), JSON.stringify({ upstream: { url: 'http://127.0.0.1:1' }, keys: './keys.json', default_signed_response_alg: 'PS384', state: { secrets: ['cli-test-secret-cli-test-secret-01234'] } }))
  const check = capture()
  t.equal(await main(['--config', join(dir, 'ps.json'), '--check-config'], check.out, silent), 0)
  t.same(check.logged, [`${join(dir, 'ps.json')}: configuration is valid`])
  const wrong = capture()
  t.equal(await main(['--generate-key', 'HS256'], wrong.out, silent), 2)
  t.match(wrong.errors[0], /HS256 is not one of RS256/)
})

t.test('--check-config lists every problem and exits 1; warnings on a valid one', async (t) => {
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ upstream: { url: 'nope' }, response_ttl_seconds: 0, clients: { a: { authorization_signed_response_alg: 'none' } } }))
  const bad = capture()
  t.equal(await main(['--config', join(dir, 'bad.json'), '--check-config'], bad.out, silent), 1)
  t.match(bad.errors[0], /upstream\.url: must match pattern/)
  t.match(bad.errors[0], /clients\.a\.authorization_signed_response_alg: client a is "none", which is refused/)
  t.match(bad.errors[0], /response_ttl_seconds: must be >= 10/)
  const shipped = capture()
  t.equal(await main(['--config', new URL('../../gateway.config.json', import.meta.url).pathname, '--check-config'], shipped.out, silent), 0)
  t.match(shipped.logged[1], /^warning: no "keys" configured/)
  const missing = capture()
  t.equal(await main(['--config', join(dir, 'missing.json')], missing.out, silent), 1)
})

t.test('starting: the log says where it listens and which upstream it fronts', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ destination: new Writable({ write (chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } }) })
  writeFileSync(join(dir, 'down.json'), JSON.stringify({ listen: { port: 0 }, upstream: { url: 'http://127.0.0.1:1', timeout_ms: 500 } }))
  const running = await main(['--config', join(dir, 'down.json')], capture().out, logger)
  if (typeof running === 'number') throw new Error('expected a running gateway')
  t.teardown(() => running.close())
  const listening = lines.find((line) => line['event'] === 'listening')
  t.equal(listening?.['url'], running.url)
  t.equal(listening?.['upstream'], 'http://127.0.0.1:1')
  t.equal(lines.filter((line) => line['event'] === 'config.warning').length, 2, 'ephemeral keys and secret, said loudly')
  t.ok(lines.some((line) => line['event'] === 'metadata.unavailable'), 'an upstream that is not up yet is not fatal')
})

t.test('the compiled command runs, serves, and drains on SIGTERM with exit 0', async (t) => {
  const legacy = await startLegacyServer({ issuer: 'http://127.0.0.1:1' })
  t.teardown(() => legacy.close())
  writeFileSync(join(dir, 'up.json'), JSON.stringify({ listen: { port: 0 }, upstream: { url: legacy.url } }))
  const child = spawn(process.execPath, [...process.execArgv, new URL('../../src/cli/jarm-gateway.ts', import.meta.url).pathname, '--config', join(dir, 'up.json')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const listening = new Promise<string>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"event":"metadata.loaded"/.test(output) ? /"url":"(http:\/\/[^"]+)"/.exec(output) : null
      if (match !== null) resolve(match[1]!)
    })
  })
  const url = await listening
  const discovery = await (await fetch(`${url}/.well-known/openid-configuration`)).json() as { response_modes_supported: string[] }
  t.ok(discovery.response_modes_supported.includes('query.jwt'))
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exit, 0)
  t.match(output, /"event":"stopping","signal":"SIGTERM"/)
  const failing = spawn(process.execPath, [...process.execArgv, new URL('../../src/cli/jarm-gateway.ts', import.meta.url).pathname, '--config', join(dir, 'missing.json')], { stdio: 'ignore' })
  t.equal(await new Promise((resolve) => failing.on('exit', resolve)), 1, 'an invalid config exits 1')
  const { port } = new URL(url)
  writeFileSync(join(dir, 'taken.json'), JSON.stringify({ listen: { port: Number(port) }, upstream: { url: legacy.url } }))
  const blocker = await listen('127.0.0.1', Number(port))
  t.teardown(() => blocker.close())
  const taken = spawn(process.execPath, [...process.execArgv, new URL('../../src/cli/jarm-gateway.ts', import.meta.url).pathname, '--config', join(dir, 'taken.json')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  taken.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  t.equal(await new Promise((resolve) => taken.on('exit', resolve)), 1, 'a port in use exits 1')
  t.match(stderr, /jarm-gateway: cannot start: listen EADDRINUSE/)
})
