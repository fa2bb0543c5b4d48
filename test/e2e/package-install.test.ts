// The container image's steps without a Docker engine: compile, `npm pack`, a clean
// `npm ci --omit=dev` of the packed files (from the npm cache when it holds them, else the
// registry), then the image's ENTRYPOINT and HEALTHCHECK commands run from that install,
// in front of a real legacy server, and a SIGTERM.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { startLegacyServer } from '../../demo/legacy-server.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { dockerfileStages, execForm, ROOT } from '../helpers/deployment-files.js'

t.setTimeout(300_000)
const run = promisify(execFile)
const tmp = await mkdtemp(join(tmpdir(), 'jarm-gateway-image-'))
t.teardown(() => rm(tmp, { recursive: true, force: true }))
const [, runtime] = dockerfileStages()
const entrypoint = execForm(runtime!.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args)
const healthcheck = execForm(runtime!.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.args)
/** The child processes run as in the image: no test loaders, production mode. */
const { NODE_OPTIONS: _loaders, ...cleanEnv } = process.env
const imageEnv = { ...cleanEnv, NODE_ENV: 'production' }
const build = join(tmp, 'build')
const app = join(tmp, 'app')

t.test('build stage: compile and pack', async (t) => {
  await mkdir(build)
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'schema']) await cp(join(ROOT, entry), join(build, entry), { recursive: true })
  // The build stage's `npm ci` (every dependency, dev ones included) is the installed tree.
  await symlink(join(ROOT, 'node_modules'), join(build, 'node_modules'), 'dir')
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: build, timeout: 180_000 })
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: build, env: imageEnv, timeout: 60_000 })
  const [packed] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  const paths = packed!.files.map((f) => f.path)
  t.ok(paths.includes('dist/src/cli/jarm-gateway.js'))
  t.ok(paths.includes('schema/gateway.config.schema.json'), 'the schema ships with the package')
  t.notOk(paths.some((p) => p.startsWith('src/') || p.startsWith('test/') || p.startsWith('demo/') || p.startsWith('dist/demo/')), 'no sources, tests or demo')
  await mkdir(app)
  await run('tar', ['-xzf', join(tmp, packed!.filename), '-C', app, '--strip-components=1'])
})

t.test('runtime stage: npm ci --omit=dev installs production dependencies only', async (t) => {
  await cp(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'))
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, env: imageEnv, timeout: 180_000 })
  const installed = await readdir(join(app, 'node_modules'))
  for (const dependency of ['ajv', 'http-proxy', 'jose', 'node-html-parser', 'pino', 'prom-client']) t.ok(installed.includes(dependency), `${dependency} installed`)
  for (const dev of ['typescript', 'tap', 'ts-node', 'oidc-provider', 'playwright-core', 'yaml']) t.notOk(existsSync(join(app, 'node_modules', dev)), `${dev} not installed`)
})

t.test('the entry command serves from the clean install; the health check passes; SIGTERM exits 0', async (t) => {
  const legacy = await startLegacyServer({ issuer: 'http://127.0.0.1:1/' })
  t.teardown(() => legacy.close())
  const etc = join(tmp, 'etc')
  await mkdir(etc)
  await writeFile(join(etc, 'signing.jwks.json'), JSON.stringify({ keys: [await generatePrivateJwk('ES256')] }))
  await writeFile(join(etc, 'state-secrets'), 'a-state-secret-long-enough-for-the-schema-0123456789\n')
  await writeFile(join(etc, 'gateway.config.json'), JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, upstream: { url: 'http://replaced:1' }, keys: join(etc, 'signing.jwks.json'), default_signed_response_alg: 'ES256' }))
  const env = { ...imageEnv, JARM_GATEWAY_CONFIG: join(etc, 'gateway.config.json'), JARM_GATEWAY_UPSTREAM_URL: legacy.url, JARM_GATEWAY_STATE_SECRETS_FILE: join(etc, 'state-secrets') }

  const check = await run(entrypoint[0]!, [...entrypoint.slice(1), '--check-config'], { cwd: app, env, timeout: 60_000 })
  t.match(check.stdout, /configuration is valid/)
  t.notMatch(check.stdout, /warning/, 'keys and secrets came from the mounted files')

  const child = spawn(entrypoint[0]!, entrypoint.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: Array<Record<string, unknown>> = []
  const listening = new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Record<string, unknown>
      lines.push(line)
      if (line['event'] === 'listening') resolve(line['url'] as string)
    })
  })
  const url = await listening
  const ready = await fetch(`${url}/readyz`)
  t.equal(ready.status, 200)
  t.equal((await ready.json() as { status: string }).status, 'ready')
  const discovery = await (await fetch(`${url}/.well-known/openid-configuration`)).json() as { response_modes_supported: string[], authorization_signing_alg_values_supported: string[] }
  t.ok(discovery.response_modes_supported.includes('query.jwt'), 'the packaged gateway publishes the JARM modes')
  t.same(discovery.authorization_signing_alg_values_supported, ['ES256'])

  const health = await run(healthcheck[0]!, [...healthcheck.slice(1)], { cwd: app, env: { ...env, JARM_GATEWAY_LISTEN_PORT: new URL(url).port }, timeout: 60_000 })
  t.match(health.stdout, /\/healthz: HTTP 200/)

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0)
  t.ok(lines.some((line) => line['event'] === 'stopped' && line['drained'] === true))
})
