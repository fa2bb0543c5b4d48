// The Dockerfile, the compose file and the Kubernetes example agree with the gateway: they parse,
// their configs validate, their probes hit the gateway's paths and port, their mounts hold the
// paths the config and variables name, and every JARM_GATEWAY_* variable they set exists.
import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { environmentSettings, FILE_SUFFIX } from '../../src/config/environment-overrides.js'
import { CONFIG_SCHEMA, loadConfigFile, type GatewayConfig } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { dockerfileStages, envOf, execForm, ROOT, yamlDocuments } from '../helpers/deployment-files.js'
import { createTestPki } from '../helpers/test-pki.js'

const CONFIG_PATH = '/etc/jarm-gateway/gateway.config.json'
const SECRETS_DIR = '/var/run/secrets/jarm-gateway'
const dir = await mkdtemp(join(tmpdir(), 'jarm-gateway-deploy-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const jwksFile = join(dir, 'signing.jwks.json')
await writeFile(jwksFile, JSON.stringify({ keys: [await generatePrivateJwk('ES256')] }))
const stateFile = join(dir, 'state-secrets')
await writeFile(stateFile, 'a-state-secret-long-enough-for-the-schema-0123456789\n')
const pki = createTestPki()
t.teardown(() => pki.remove())
const ca = pki.authority('Deployment CA')
const served = ca.issue('id.example.com', { dns: ['id.example.com'] })

/** Names the command reads besides the settings. */
const NON_SETTING_VARIABLES = new Set(['JARM_GATEWAY_CONFIG', 'JARM_GATEWAY_LOG_LEVEL'])
const settingNames = new Set(environmentSettings(CONFIG_SCHEMA).flatMap((s) => [s.name, s.name + FILE_SUFFIX]))

function knownVariable (name: string): boolean {
  return NON_SETTING_VARIABLES.has(name) || settingNames.has(name)
}

/** Validates an example config as the container would load it, with the mounted secrets replaced by temporary files. */
async function loadExample (text: string): Promise<GatewayConfig> {
  const file = join(dir, `example-${Math.random().toString(36).slice(2)}.json`)
  const parsed = JSON.parse(text) as Record<string, unknown>
  t.equal(parsed['keys'], `${SECRETS_DIR}/signing.jwks.json`, 'keys come from the mounted secret')
  await writeFile(file, text)
  const tls = (parsed['listen'] as { tls?: unknown }).tls === undefined ? {} : { JARM_GATEWAY_LISTEN_TLS_CERT_FILE: served.certFile, JARM_GATEWAY_LISTEN_TLS_KEY_FILE: served.keyFile, JARM_GATEWAY_LISTEN_TLS_CLIENT_CA_FILE: ca.certFile }
  return loadConfigFile(file, { JARM_GATEWAY_KEYS: jwksFile, JARM_GATEWAY_STATE_SECRETS_FILE: stateFile, ...tls })
}

/** The TLS file paths an example config names (before the test's own files replace them). */
function tlsPaths (text: string): string[] {
  const tls = (JSON.parse(text) as { listen: { tls?: Record<string, string> } }).listen.tls ?? {}
  return ['cert_file', 'key_file', 'client_ca_file'].map((name) => tls[name]).filter((path): path is string => path !== undefined)
}

t.test('Dockerfile: build stage, then a slim Node 24 runtime with production dependencies, non-root, health check, documented config path, a certificate mount', async (t) => {
  const [build, runtime, ...rest] = dockerfileStages()
  t.equal(rest.length, 0)
  t.match(build!.from, /^node:24-/)
  t.ok(build!.instructions.some((i) => i.keyword === 'RUN' && /npx tsc -p tsconfig\.build\.json/.test(i.args)))
  t.match(runtime!.from, /^node:24-bookworm-slim$/)
  t.equal(runtime!.instructions.find((i) => i.keyword === 'VOLUME')?.args, '["/etc/jarm-gateway/tls"]', 'certificates are mounted beside the config (paths relative to it: tls/...)')
  const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8')
  t.match(dockerfile, /-v "\$PWD\/tls:\/etc\/jarm-gateway\/tls:ro"/, 'the documented run mounts them read-only')
  const engines = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node
  t.match(engines, /\^22\./, 'engines names Node 22')
  t.match(engines, />=24/, 'and 24')
  const run = runtime!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n')
  t.match(run, /npm ci --omit=dev/)
  t.equal(runtime!.instructions.find((i) => i.keyword === 'USER')?.args, 'node')
  t.ok(runtime!.instructions.some((i) => i.keyword === 'COPY' && i.args.startsWith(`--from=${build!.name} `)))
  const env = envOf(runtime!)
  t.equal(env['JARM_GATEWAY_CONFIG'], CONFIG_PATH)
  t.equal(env['NODE_ENV'], 'production')
  for (const name of Object.keys(env).filter((n) => n.startsWith('JARM_GATEWAY_'))) t.ok(knownVariable(name), `${name} is a known variable`)
  t.same(execForm(runtime!.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args), ['node', 'dist/src/cli/jarm-gateway.js'])
  t.same(execForm(runtime!.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.args), ['node', 'dist/src/cli/jarm-gateway.js', '--health-check'])
  t.equal(runtime!.instructions.find((i) => i.keyword === 'EXPOSE')?.args, String((CONFIG_SCHEMA.properties!['listen']!.properties!['port']!.default)))
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>, files: string[] }
  t.equal(pkg.bin['jarm-gateway'], 'dist/src/cli/jarm-gateway.js', 'the entry point is the package bin')
  const ignore = await readFile(join(ROOT, '.dockerignore'), 'utf8')
  for (const copied of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/', 'schema/']) t.match(ignore, `!${copied}`, `${copied} is in the build context`)
})

t.test('compose.yaml: the gateway beside a legacy server, config and secrets mounted where the config says', async (t) => {
  const [compose] = yamlDocuments('docs/compose.yaml')
  const services = compose!['services'] as Record<string, Record<string, unknown>>
  t.same(Object.keys(services).sort(), ['jarm-gateway', 'legacy'])
  const gateway = services['jarm-gateway']!
  const env = gateway['environment'] as Record<string, string>
  for (const name of Object.keys(env)) t.ok(knownVariable(name), `${name} is a known variable`)
  t.equal(env['JARM_GATEWAY_CONFIG'], CONFIG_PATH)
  t.same(gateway['volumes'], [`./gateway.config.json:${CONFIG_PATH}:ro`])
  const secretTargets = (gateway['secrets'] as Array<{ target: string }>).map((s) => s.target)
  t.ok(secretTargets.includes(env['JARM_GATEWAY_STATE_SECRETS_FILE']!), 'the state secrets file is mounted')
  const config = await loadExample(await readFile(join(ROOT, 'docs/gateway.config.json'), 'utf8'))
  t.ok(secretTargets.includes(`${SECRETS_DIR}/signing.jwks.json`), 'the keys file is mounted')
  t.equal(config.listen.host, '0.0.0.0', 'reachable from outside the container')
  t.same(gateway['ports'], [`${config.listen.port}:${config.listen.port}`])
  t.equal(new URL(env['JARM_GATEWAY_UPSTREAM_URL']!).hostname, 'legacy', 'the upstream is the legacy service')
  t.same((gateway['healthcheck'] as { test: string[] }).test, ['CMD', 'node', 'dist/src/cli/jarm-gateway.js', '--health-check'])
  const grace = Number(/^(\d+)s$/.exec(gateway['stop_grace_period'] as string)![1]) * 1000
  t.ok(grace > config.listen.drainTimeoutMs, 'the stop grace period outlasts the drain')
})

t.test('kubernetes.yaml: the gateway as a sidecar, probes on its health and readiness paths and port', async (t) => {
  const documents = yamlDocuments('docs/kubernetes.yaml')
  t.same(documents.map((d) => d['kind']), ['ConfigMap', 'Deployment', 'Service'])
  const configMap = documents[0] as { metadata: { name: string }, data: Record<string, string> }
  const config = await loadExample(configMap.data['gateway.config.json']!)
  const spec = (documents[1] as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec
  t.equal(spec['enableServiceLinks'], false)
  t.ok((spec['terminationGracePeriodSeconds'] as number) * 1000 > config.listen.drainTimeoutMs, 'the grace period outlasts the drain')
  const containers = spec['containers'] as Array<Record<string, unknown>>
  t.equal(containers.length, 2, 'the legacy server and the gateway in one pod')
  const gateway = containers.find((c) => c['name'] === 'jarm-gateway')!
  const ports = gateway['ports'] as Array<{ name: string, containerPort: number }>
  t.same(ports, [{ name: 'https', containerPort: config.listen.port }])
  t.ok(config.listen.tls !== undefined, 'the gateway serves HTTPS')
  const env = Object.fromEntries((gateway['env'] as Array<{ name: string, value: string }>).map((e) => [e.name, e.value]))
  for (const name of Object.keys(env)) t.ok(knownVariable(name), `${name} is a known variable`)
  t.equal(env['JARM_GATEWAY_CONFIG'], CONFIG_PATH)
  const mounts = Object.fromEntries((gateway['volumeMounts'] as Array<{ name: string, mountPath: string }>).map((m) => [m.name, m.mountPath]))
  const volumes = spec['volumes'] as Array<{ name: string, configMap?: { name: string }, secret?: { secretName: string } }>
  const configVolume = volumes.find((v) => v.configMap?.name === configMap.metadata.name)!
  t.equal(`${mounts[configVolume.name]}/gateway.config.json`, CONFIG_PATH, 'the ConfigMap is mounted where JARM_GATEWAY_CONFIG points')
  const secretVolume = volumes.find((v) => v.secret?.secretName === 'jarm-gateway')!
  t.equal(mounts[secretVolume.name], SECRETS_DIR)
  const tlsVolume = volumes.find((v) => v.secret?.secretName === 'jarm-gateway-tls')!
  for (const path of tlsPaths(configMap.data['gateway.config.json']!)) t.equal(path.slice(0, path.lastIndexOf('/')), mounts[tlsVolume.name], `${path} is in the mounted TLS secret`)
  t.ok(env['JARM_GATEWAY_STATE_SECRETS_FILE']!.startsWith(`${SECRETS_DIR}/`))
  const liveness = gateway['livenessProbe'] as { httpGet: { path: string, port: string, scheme: string } }
  const readiness = gateway['readinessProbe'] as { httpGet: { path: string, port: string, scheme: string } }
  t.equal(liveness.httpGet.scheme, 'HTTPS')
  t.equal(readiness.httpGet.scheme, 'HTTPS')
  t.not(config.listen.tls?.clientCertificates, 'required', 'kubelet probes present no client certificate')
  t.equal(liveness.httpGet.path, config.observability.healthPath)
  t.equal(readiness.httpGet.path, config.observability.readyPath)
  t.equal(liveness.httpGet.port, 'https')
  t.equal(readiness.httpGet.port, 'https')
  t.equal(config.observability.adminPort, undefined, 'the probes use the main port, as configured')
  const annotations = (documents[1] as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations
  t.equal(annotations['prometheus.io/path'], config.observability.metricsPath)
  t.equal(annotations['prometheus.io/port'], String(config.listen.port))
  t.equal(annotations['prometheus.io/scheme'], 'https')
  t.equal(new URL(config.upstream.url).hostname, '127.0.0.1', 'the legacy server is on the pod loopback')
  const security = gateway['securityContext'] as Record<string, unknown>
  t.equal(security['runAsNonRoot'], true)
  t.equal(security['readOnlyRootFilesystem'], true)
  const service = documents[2] as { spec: { ports: Array<{ targetPort: string }> } }
  t.equal(service.spec.ports[0]!.targetPort, 'https', 'the Service sends traffic to the gateway')
})
