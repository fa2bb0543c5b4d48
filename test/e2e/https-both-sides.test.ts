// TLS on both sides with real parts: a real oidc-provider served over HTTPS that asks the gateway for
// a client certificate (mutual TLS to the legacy server), the gateway serving HTTPS with optional
// client certificates (RFC 8705) forwarded as URL-encoded PEM, the four JARM modes judged by
// oauth4webapi over HTTPS trusting the test CA, and the gateway's certificate rotated in place by a
// SIGHUP reload while flows run, none failing. Certificates come from Debian's openssl (test-pki.ts).
import t from 'tap'
import { writeFileSync, copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { request as httpsRequest } from 'node:https'
import { Writable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { startLegacyServer } from '../../demo/legacy-server.js'
import { reloadOnSignal } from '../../src/cli/reload-on-signal.js'
import { loadConfigFile } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { listen, serve } from '../../src/server.js'
import { BrowserAgent, callbackParameters } from '../helpers/browser-agent.js'
import { httpsFetch } from '../helpers/https-fetch.js'
import { APP1, APP1_SECRET, authorizationRequest, oauth } from '../helpers/judge.js'
import { STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'
import { createTestPki } from '../helpers/test-pki.js'

const HEADER = 'x-ssl-client-cert'
const pki = createTestPki()
t.teardown(() => pki.remove())
const ca = pki.authority('Test Root CA')
const clientCa = pki.authority('Test Client CA')
const legacyCert = ca.issue('idp.internal', { dns: ['idp.internal'] })
const gatewayCert = ca.issue('gateway-1', { dns: ['localhost'], ip: ['127.0.0.1'] })
const rotatedCert = ca.issue('gateway-2', { dns: ['localhost'], ip: ['127.0.0.1'] })
const gatewayClient = clientCa.issue('jarm-gateway', { usage: 'client' })
const appClient = clientCa.issue('app1', { usage: 'client' })
const strangerCa = pki.authority('Stranger CA')
const strangerClient = strangerCa.issue('app1', { usage: 'client' })

// The files the gateway's configuration names, rotated in place later (as cert-manager does).
const liveCert = join(pki.dir, 'gateway.crt')
const liveKey = join(pki.dir, 'gateway.key')
copyFileSync(gatewayCert.certFile, liveCert)
copyFileSync(gatewayCert.keyFile, liveKey)

const logs: Array<Record<string, unknown>> = []
const logger = createLogger({ level: 'debug', destination: new Writable({ write (chunk: Buffer, _e, done) { logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } }) })

const listenTls = { cert_file: 'gateway.crt', key_file: 'gateway.key', client_ca_file: clientCa.certFile, client_certificates: 'optional', client_certificate_header: HEADER }
const configFile = join(pki.dir, 'gateway.config.json')
const writeConfig = (upstreamUrl: string): void => writeFileSync(configFile, JSON.stringify({
  listen: { host: '127.0.0.1', port: 0, tls: listenTls },
  upstream: { url: upstreamUrl, tls: { ca_file: ca.certFile, cert_file: gatewayClient.certFile, key_file: gatewayClient.keyFile, servername: 'idp.internal' } },
  keys: TEST_KEYS,
  state: { secrets: [STATE_SECRET] },
  clients: { app1: { authorization_signed_response_alg: 'ES256', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=app1' } },
  pushed_authorization_requests: { serve: 'gateway' },
}))

// The port first (the issuer is the gateway's address), then the legacy server, then the gateway.
writeConfig('https://127.0.0.1:1')
const server = await listen('127.0.0.1', 0, (await loadConfigFile(configFile, {})).listen.tls)
const { port } = server.address() as { port: number }
const issuer = `https://127.0.0.1:${port}`
/** What the legacy server received: the forwarded header, X-Forwarded-Proto and the gateway's client certificate, per path. */
const forwarded: Array<{ path: string, header: string | undefined, proto: string | undefined, gatewaySubject: string | undefined }> = []
const legacy = await startLegacyServer({
  issuer,
  httpPost: true,
  tls: { cert: legacyCert.cert, key: legacyCert.key, clientCa: clientCa.cert },
  onRequest: (req) => {
    const socket = req.socket as TLSSocket
    forwarded.push({ path: req.url!.split('?')[0]!, header: req.headers[HEADER] as string | undefined, proto: req.headers['x-forwarded-proto'] as string | undefined, gatewaySubject: socket.getPeerCertificate().subject?.CN as string | undefined })
  },
})
writeConfig(legacy.url)
const running = serve(server, await loadConfigFile(configFile, {}), logger)
await running.gateway.start()
const reloader = reloadOnSignal(configFile, running.gateway, logger, 'SIGUSR2', (file) => loadConfigFile(file, {}), running.reloadTls)
t.teardown(async () => {
  reloader.stop()
  server.closeAllConnections()
  await running.close()
  await legacy.close()
})

const client = httpsFetch({ ca: ca.cert })
const options = { [oauth.customFetch]: client as unknown as typeof fetch }
const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), options))

async function flow (mode: string, fetchImpl = client): Promise<string> {
  const request = await authorizationRequest(as, { response_mode: mode })
  const arrival = await new BrowserAgent(fetchImpl).run(request.url)
  const parameters = await oauth.validateJwtAuthResponse(as, APP1, callbackParameters(arrival), request.state!, options)
  const tokens = await oauth.processAuthorizationCodeResponse(as, APP1, await oauth.authorizationCodeGrantRequest(as, APP1, oauth.ClientSecretBasic(APP1_SECRET), parameters, 'https://client.example.org/cb', request.verifier, options), { expectedNonce: request.nonce })
  return tokens.access_token
}

t.test('discovery over HTTPS names https:// endpoints; the gateway reached the legacy server with its client certificate', async (t) => {
  t.equal(as.issuer, issuer)
  t.match(as.authorization_endpoint, /^https:\/\/127\.0\.0\.1:\d+\//)
  t.ok(forwarded.length > 0)
  t.ok(forwarded.every((f) => f.gatewaySubject === 'jarm-gateway'), 'mutual TLS to the legacy server')
  t.equal(forwarded.at(-1)?.proto, 'https', 'the proxied discovery request carries X-Forwarded-Proto https')
})

for (const mode of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt']) {
  t.test(`code flow over HTTPS on both sides, response_mode=${mode}: judged by oauth4webapi, redeemed`, async (t) => {
    t.ok(await flow(mode))
  })
}

/** One request through the gateway with optional client certificate and a spoofed header; returns what the legacy server got. */
async function headerSeen (tls: { cert?: string, key?: string }, spoof: boolean): Promise<string | undefined> {
  const path = `/.well-known/openid-configuration?probe=${Math.random()}`
  await new Promise<void>((resolve, reject) => {
    const req = httpsRequest(new URL(path, issuer), { ca: ca.cert, ...tls, agent: false, headers: spoof ? { [HEADER]: encodeURIComponent(appClient.cert.replace('A', 'B')) } : {} }, (res) => { res.resume(); res.on('end', resolve) })
    req.on('error', reject)
    req.end()
  })
  return forwarded.filter((f) => f.path === '/.well-known/openid-configuration').at(-1)!.header
}

t.test('client certificates: the verified one reaches the legacy server byte for byte as URL-encoded PEM; a spoofed header never does', async (t) => {
  const presented = await headerSeen({ cert: appClient.cert, key: appClient.key }, true)
  t.equal(decodeURIComponent(presented!), appClient.cert, 'the PEM openssl wrote, byte for byte')
  t.equal(presented, encodeURIComponent(appClient.cert), 'URL-encoded like nginx $ssl_client_escaped_cert')
  t.equal(new X509Certificate(decodeURIComponent(presented!)).subject, 'CN=app1')
  t.equal(await headerSeen({}, true), undefined, 'no certificate: the spoofed header is dropped')
  t.equal(await headerSeen({}, false), undefined)
  t.equal(await headerSeen({ cert: strangerClient.cert, key: strangerClient.key }, true), undefined, 'a certificate of an unknown CA is not forwarded, nor the spoofed header')
})

/** A push to the gateway's own PAR endpoint over HTTPS, with a client certificate or none. */
async function push (tls: { cert?: string, key?: string }): Promise<{ status: number, body: Record<string, unknown> }> {
  const body = new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example.org/cb', scope: 'openid', response_mode: 'jwt' }).toString()
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL('/jarm-gateway/par', issuer), { method: 'POST', ca: ca.cert, ...tls, agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('tls_client_auth at the gateway\'s PAR endpoint (RFC 8705): only a certificate the handshake verified, with the registered subject', async (t) => {
  t.equal(as.pushed_authorization_request_endpoint, `${issuer}/jarm-gateway/par`)
  const pushed = await push({ cert: appClient.cert, key: appClient.key })
  t.equal(pushed.status, 201)
  t.match(pushed.body['request_uri'], /^urn:ietf:params:oauth:request_uri:/)
  t.match(await push({}), { status: 401, body: { error: 'invalid_client' } }, 'no certificate')
  t.match(await push({ cert: strangerClient.cert, key: strangerClient.key }), { status: 401, body: { error: 'invalid_client' } }, 'a certificate of CN=app1 from an unknown CA authenticates nobody')
  t.match(await push({ cert: gatewayClient.cert, key: gatewayClient.key }), { status: 401 }, 'another subject of the trusted CA')
})

t.test('a plain HTTP request on the HTTPS port is refused, never proxied', async (t) => {
  const before = forwarded.length
  const response = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)
  t.equal(response.status, 400)
  t.match(await response.text(), /HTTPS only/)
  t.equal(forwarded.length, before)
})

t.test('SIGHUP rotates the certificate under concurrent flows: none fails, new connections get the new certificate, open ones go on', async (t) => {
  const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256
  const flows: Array<Promise<string>> = []
  const parallel = httpsFetch({ ca: ca.cert })
  for (let i = 0; i < 16; i++) flows.push(flow(['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'][i % 4]!, i % 2 === 0 ? client : parallel))
  await new Promise((resolve) => setTimeout(resolve, 30))
  copyFileSync(rotatedCert.certFile, liveCert)
  copyFileSync(rotatedCert.keyFile, liveKey)
  t.equal(await reloader.reload(), true)
  for (let i = 0; i < 16; i++) flows.push(flow(['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'][i % 4]!, i % 2 === 0 ? client : parallel))
  const results = await Promise.allSettled(flows)
  t.same(results.filter((r) => r.status === 'rejected'), [], 'no flow failed')
  const fresh = httpsFetch({ ca: ca.cert })
  await (await fresh(new URL('/healthz', issuer))).text()
  t.same(fresh.certificates, [fingerprint(rotatedCert.cert)], 'a new connection gets the new certificate')
  t.ok(client.certificates.includes(fingerprint(gatewayCert.cert)), 'connections opened before kept the old one')
  t.ok(logs.some((l) => l['event'] === 'tls.reloaded'))

  // A broken file: the reload is refused, logged with the setting, and the running certificate stays.
  writeFileSync(liveKey, '-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n')
  t.equal(await reloader.reload(), false)
  const refused = logs.filter((l) => l['event'] === 'config.reload_failed').at(-1)
  t.match(JSON.stringify(refused?.['problems']), /listen\.tls\.key_file/)
  const after = httpsFetch({ ca: ca.cert })
  await (await after(new URL('/healthz', issuer))).text()
  t.same(after.certificates, [fingerprint(rotatedCert.cert)], 'still the certificate last loaded')
  t.ok(await flow('query.jwt', after))
  t.notMatch(JSON.stringify(logs), /PRIVATE KEY|broken/, 'no key material in the logs')
})
