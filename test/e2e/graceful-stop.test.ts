// SIGTERM on the real command in a child process: no new connections, requests in flight finish
// (or are cut at the drain timeout), exit code 0. And --health-check against the running command.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { main } from '../../src/cli/main.js'
import { createLogger } from '../../src/observability/logger.js'
import { healthUrl } from '../../src/cli/health-check.js'
import { buildConfig } from '../../src/config/load-config.js'
import { STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'

const silent = createLogger({ level: 'silent' })

/** A legacy server stand-in that holds /slow until the test lets it answer (no real server can be told to). */
const held: ServerResponse[] = []
let arrived: () => void = () => {}
const upstream = createServer((req, res) => {
  if (req.url === '/slow') { held.push(res); arrived(); return }
  res.writeHead(404).end()
})
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`
const dir = await mkdtemp(join(tmpdir(), 'jarm-gateway-stop-'))
const configFile = join(dir, 'gateway.config.json')
await writeFile(configFile, JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, upstream: { url: 'http://replaced.by.env:1' }, keys: TEST_KEYS, state: { secrets: [STATE_SECRET] } }))
t.teardown(async () => {
  upstream.closeAllConnections()
  upstream.close()
  await rm(dir, { recursive: true, force: true })
})

interface Gateway { child: ChildProcess, url: string, lines: Array<Record<string, unknown>>, waitFor (event: string): Promise<Record<string, unknown>> }

/** Starts the command as production does (plus tap's TypeScript loader), configured by file and environment. */
async function startCommand (env: Record<string, string>): Promise<Gateway> {
  const child = spawn(process.execPath, [...process.execArgv, 'src/cli/jarm-gateway.ts', '--config', configFile], {
    env: { ...process.env, JARM_GATEWAY_UPSTREAM_URL: upstreamUrl, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<{ event: string, resolve: (line: Record<string, unknown>) => void }> = []
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>
    lines.push(line)
    for (const waiter of waiters.filter((w) => w.event === line['event'])) waiter.resolve(line)
  })
  const waitFor = (event: string): Promise<Record<string, unknown>> => {
    const seen = lines.find((line) => line['event'] === event)
    return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ event, resolve }))
  }
  const listening = await waitFor('listening')
  return { child, url: listening['url'] as string, lines, waitFor }
}

/** Resolves when a TCP connection to the URL is refused (the listener is closed). */
async function refused (url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  for (let attempt = 0; attempt < 100; attempt++) {
    const outcome = await new Promise<string | undefined>((resolve) => {
      const socket = connect(Number(port), hostname)
      socket.once('connect', () => { socket.destroy(); resolve('connected') })
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code))
    })
    if (outcome === 'ECONNREFUSED') return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return false
}

t.test('SIGTERM: new connections are refused, the request in flight finishes, exit code 0', async (t) => {
  const gateway = await startCommand({})
  const upstreamGotIt = new Promise<void>((resolve) => { arrived = resolve })
  const inFlight = fetch(`${gateway.url}/slow`)
  await upstreamGotIt
  gateway.child.kill('SIGTERM')
  const stopping = await gateway.waitFor('stopping')
  t.equal(stopping['signal'], 'SIGTERM')
  t.equal(stopping['drainTimeoutMs'], 10000, 'the default drain timeout')
  t.ok(await refused(gateway.url), 'no new connections')
  held.shift()!.writeHead(200, { 'content-type': 'text/plain' }).end('finished after SIGTERM')
  const response = await inFlight
  t.equal(response.status, 200)
  t.equal(response.headers.get('connection'), 'close', 'the last response on its connection says so')
  t.equal(await response.text(), 'finished after SIGTERM')
  const [code, signal] = await once(gateway.child, 'exit') as [number | null, string | null]
  t.equal(code, 0)
  t.equal(signal, null)
  t.equal((await gateway.waitFor('stopped'))['drained'], true)
})

t.test('SIGTERM with a request that outlasts the drain timeout: its connection is closed, exit code 0', async (t) => {
  const gateway = await startCommand({ JARM_GATEWAY_LISTEN_DRAIN_TIMEOUT_MS: '200' })
  const upstreamGotIt = new Promise<void>((resolve) => { arrived = resolve })
  const inFlight = fetch(`${gateway.url}/slow`).then(() => 'answered', () => 'connection closed')
  await upstreamGotIt
  gateway.child.kill('SIGTERM')
  const [code] = await once(gateway.child, 'exit') as [number | null]
  t.equal(code, 0)
  t.equal(await inFlight, 'connection closed')
  t.equal((await gateway.waitFor('stopped'))['drained'], false)
  t.equal((await gateway.waitFor('stopping'))['drainTimeoutMs'], 200, 'the drain timeout from the environment')
  held.shift()!.destroy()
})

t.test('--health-check asks the running gateway at the configured address and path', async (t) => {
  const gateway = await startCommand({ JARM_GATEWAY_OBSERVABILITY_HEALTH_PATH: '/live' })
  t.teardown(async () => {
    gateway.child.kill('SIGTERM')
    await once(gateway.child, 'exit')
  })
  const port = new URL(gateway.url).port
  const out: string[] = []
  const sink = { log: (line: string) => out.push(`log: ${line}`), error: (line: string) => out.push(`error: ${line}`) }
  const env = { JARM_GATEWAY_UPSTREAM_URL: upstreamUrl, JARM_GATEWAY_LISTEN_PORT: port, JARM_GATEWAY_OBSERVABILITY_HEALTH_PATH: '/live' }
  t.equal(await main(['--config', configFile, '--health-check'], sink, silent, env), 0)
  t.same(out, [`log: http://127.0.0.1:${port}/live: HTTP 200`])
  out.length = 0
  t.equal(await main(['--health-check'], sink, silent, { ...env, JARM_GATEWAY_CONFIG: configFile, JARM_GATEWAY_OBSERVABILITY_HEALTH_PATH: '/not-health' }), 1, 'another path is the legacy server 404')
  t.same(out, [`error: http://127.0.0.1:${port}/not-health: HTTP 404`])
  out.length = 0
  const { port: closedPort } = upstream.address() as { port: number }
  upstream.close()
  t.equal(await main(['--config', configFile, '--health-check'], sink, silent, { ...env, JARM_GATEWAY_LISTEN_PORT: String(closedPort) }), 1, 'nothing listening')
  t.match(out[0], /^error: http:\/\/127\.0\.0\.1:\d+\/live: fetch failed$/)
})

t.test('the health URL is reached on loopback for a wildcard address, and on the admin port when there is one', async (t) => {
  const base = { upstream: { url: upstreamUrl }, keys: TEST_KEYS, state: { secrets: [STATE_SECRET] } }
  const url = async (extra: object): Promise<string> => healthUrl(await buildConfig({ ...base, ...extra }, dir))
  t.equal(await url({ listen: { host: '0.0.0.0', port: 8080 } }), 'http://127.0.0.1:8080/healthz')
  t.equal(await url({ listen: { host: '::', port: 8080 } }), 'http://[::1]:8080/healthz')
  t.equal(await url({ listen: { host: '::1', port: 8080 } }), 'http://[::1]:8080/healthz')
  t.equal(await url({ listen: { host: 'gateway.local', port: 80 } }), 'http://gateway.local:80/healthz')
  t.equal(await url({ listen: { host: '0.0.0.0', port: 8080 }, observability: { admin_port: 9090, health_path: '/h' } }), 'http://127.0.0.1:9090/h')
  t.equal(await url({ listen: { host: '0.0.0.0', port: 8080 }, observability: { admin_port: 9090, admin_host: '10.0.0.7' } }), 'http://10.0.0.7:9090/healthz')
})
