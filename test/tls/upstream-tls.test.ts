// TLS to the legacy server (upstream.tls): trust from ca_file, the name from servername, mutual TLS,
// and every TLS failure (unknown CA, wrong name, expired certificate, a reset or a plain-HTTP
// server during the handshake) ending in a 502 upstream_tls_failed page with one log line naming
// the cause, readiness saying tls_failed, and the gateway still serving.
import t, { type Test } from 'tap'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type ServerOptions } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { Writable } from 'node:stream'
import { buildConfig } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve, type RunningGateway } from '../../src/server.js'
import { createTestPki } from '../helpers/test-pki.js'

const pki = createTestPki()
t.teardown(() => pki.remove())
const ca = pki.authority('Legacy Test CA')
const otherCa = pki.authority('Some Other CA')
const clientCa = pki.authority('Gateway Client CA')
const internal = ca.issue('idp.internal', { dns: ['idp.internal'] })
const loopback = ca.issue('loopback', { dns: ['localhost'], ip: ['127.0.0.1'] })
const expired = ca.issue('expired', { ip: ['127.0.0.1'], days: -1 })
const strangers = otherCa.issue('stranger', { ip: ['127.0.0.1'] })
const gatewayClient = clientCa.issue('jarm-gateway', { usage: 'client' })
const keys = { keys: [await generatePrivateJwk('ES256')] }
const STATE = 'a-test-secret-for-sealing-flow-state-0123456789'

/** What the fake legacy server saw of each request: the path and the client certificate's subject. */
interface Seen { path: string, clientSubject: string | undefined, host: string | undefined }

const handler = (seen: Seen[]) => (req: IncomingMessage, res: ServerResponse): void => {
  const socket = req.socket as TLSSocket
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined
  seen.push({ path: req.url!, clientSubject: peer?.subject?.CN as string | undefined, host: req.headers.host })
  res.writeHead(200, { 'content-type': 'text/plain' }).end('fine')
}

async function listening<T extends Server> (server: T): Promise<{ server: T, port: number }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.() }))
  return { server, port: (server.address() as AddressInfo).port }
}

async function httpsLegacy (options: ServerOptions): Promise<{ port: number, seen: Seen[] }> {
  const seen: Seen[] = []
  const { port } = await listening(createHttpsServer(options, handler(seen)))
  return { port, seen }
}

interface Gateway { running: RunningGateway, logs: Array<Record<string, unknown>> }

async function gatewayTo (url: string, tls?: Record<string, unknown>): Promise<Gateway> {
  const logs: Array<Record<string, unknown>> = []
  const destination = new Writable({ write (chunk: Buffer, _e, done) { logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  const config = await buildConfig({ upstream: { url, timeout_ms: 3000, ...(tls === undefined ? {} : { tls }) }, keys, default_signed_response_alg: 'ES256', state: { secrets: [STATE] }, observability: { ready_timeout_ms: 3000 } }, pki.dir)
  const running = serve(await listen('127.0.0.1', 0), config, createLogger({ level: 'debug', destination }))
  t.teardown(() => { running.server.closeAllConnections(); return running.close() })
  return { running, logs }
}

async function get (gateway: Gateway, path: string): Promise<{ status: number, text: string, id: string }> {
  const response = await fetch(new URL(path, gateway.running.url))
  return { status: response.status, text: await response.text(), id: response.headers.get('x-request-id')! }
}

/** One TLS failure: 502 upstream_tls_failed, one log line whose cause matches, readiness tls_failed, the gateway alive. */
async function failsWithTls (t: Test, gateway: Gateway, cause: RegExp): Promise<void> {
  const failed = await get(gateway, '/ok')
  t.equal(failed.status, 502)
  t.match(failed.text, /\(<code>upstream_tls_failed<\/code>\)/)
  t.match(failed.text, /<code>temporarily_unavailable<\/code>/)
  const lines = gateway.logs.filter((line) => line['event'] === 'request.failed' && line['requestId'] === failed.id)
  t.equal(lines.length, 1, 'one log line')
  t.equal(lines[0]?.['code'], 'upstream_tls_failed')
  t.match(lines[0]?.['cause'], cause, 'the line names the cause')
  const ready = await get(gateway, '/readyz')
  t.equal(ready.status, 503)
  t.equal((JSON.parse(ready.text) as { checks: Record<string, string> }).checks['upstream'], 'tls_failed', 'readiness reports it')
  const again = await get(gateway, '/healthz')
  t.equal(again.status, 200, 'the gateway is still serving')
}

t.test('ca_file trusts the legacy server; discovery, proxied requests and readiness go over one keep-alive TLS agent', async (t) => {
  const legacy = await httpsLegacy({ cert: loopback.cert, key: loopback.key })
  const gateway = await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile })
  for (let i = 0; i < 3; i++) {
    const answer = await get(gateway, `/ok?i=${i}`)
    t.equal(answer.status, 200)
    t.equal(answer.text, 'fine')
  }
  const ready = await get(gateway, '/readyz')
  t.equal((JSON.parse(ready.text) as { checks: Record<string, string> }).checks['upstream'], 'ok')
  t.ok(legacy.seen.some((s) => s.path === '/.well-known/openid-configuration'), 'discovery was read over TLS')
  t.equal(legacy.seen.filter((s) => s.path.startsWith('/ok')).length, 3)
  t.ok(legacy.seen.every((s) => s.clientSubject === undefined), 'no client certificate without cert_file')
})

t.test('servername: the name verified and sent as SNI when the URL holds an IP address', async (t) => {
  const sni: Array<string | false> = []
  const server = createHttpsServer({ cert: internal.cert, key: internal.key }, handler([]))
  server.on('secureConnection', (socket: TLSSocket) => sni.push(socket.servername ?? false))
  const { port } = await listening(server)
  const named = await gatewayTo(`https://127.0.0.1:${port}`, { ca_file: ca.certFile, servername: 'idp.internal' })
  t.equal((await get(named, '/ok')).status, 200)
  t.same([...new Set(sni)], ['idp.internal'], 'SNI is the configured name, not the public Host')
})

t.test('wrong name: upstream_tls_failed naming the mismatch', async (t) => {
  const legacy = await httpsLegacy({ cert: internal.cert, key: internal.key })
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile }), /ERR_TLS_CERT_ALTNAME_INVALID.*servername/)
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile, servername: 'other.internal' }), /does not name the host/)
})

t.test('wrong CA: the system store does not know the test CA, nor does another ca_file', async (t) => {
  const legacy = await httpsLegacy({ cert: strangers.cert, key: strangers.key })
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${legacy.port}`), /not signed by a trusted CA/)
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile }), /not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/)
})

t.test('expired certificate', async (t) => {
  const legacy = await httpsLegacy({ cert: expired.cert, key: expired.key })
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile }), /outside its validity period \(CERT_HAS_EXPIRED\)/)
})

t.test('handshake reset, and a plain-HTTP server at an https:// URL', async (t) => {
  const { port: resetting } = await listening(createNetServer((socket) => socket.resetAndDestroy()))
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${resetting}`, { ca_file: ca.certFile }), /closed the connection during the TLS handshake \(ECONNRESET\)/)
  const { port: plain } = await listening(createHttpServer((_req, res) => res.end('plain')))
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${plain}`, { ca_file: ca.certFile }), /TLS handshake with the legacy server failed \((ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)/)
})

t.test('mutual TLS to the legacy server: cert_file and key_file are presented; without them the handshake is refused', async (t) => {
  const legacy = await httpsLegacy({ cert: loopback.cert, key: loopback.key, ca: clientCa.cert, requestCert: true, rejectUnauthorized: true })
  const gateway = await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile, cert_file: gatewayClient.certFile, key_file: gatewayClient.keyFile })
  t.equal((await get(gateway, '/ok')).status, 200)
  t.equal(legacy.seen.find((s) => s.path === '/ok')?.clientSubject, 'jarm-gateway')
  await failsWithTls(t, await gatewayTo(`https://127.0.0.1:${legacy.port}`, { ca_file: ca.certFile }), /TLS handshake|closed the connection during the TLS handshake/)
})

t.test('a refused connection to an https:// URL stays upstream_unreachable', async (t) => {
  const { server, port } = await listening(createNetServer())
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const gateway = await gatewayTo(`https://127.0.0.1:${port}`, { ca_file: ca.certFile })
  const answer = await get(gateway, '/ok')
  t.equal(answer.status, 502)
  t.match(answer.text, /upstream_unreachable/)
  const ready = JSON.parse((await get(gateway, '/readyz')).text) as { checks: Record<string, string> }
  t.equal(ready.checks['upstream'], 'unreachable')
})
