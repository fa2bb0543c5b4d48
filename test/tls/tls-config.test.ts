// The TLS settings as --check-config reports them: every problem with its setting path (a missing or
// unreadable file, not PEM, a key that does not match its certificate, an expired certificate, a
// header without client CAs), warnings for a certificate that expires within 14 days; and the
// pieces around them: the reading of TLS failures, the health check over HTTPS, required client
// certificates, and a request whose handling throws.
import t from 'tap'
import { chmodSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { checkHealth, healthUrl } from '../../src/cli/health-check.js'
import { reloadOnSignal } from '../../src/cli/reload-on-signal.js'
import { main } from '../../src/cli/main.js'
import { buildConfig, ConfigError } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { UpstreamProxy } from '../../src/proxy/upstream-proxy.js'
import { listen, serve } from '../../src/server.js'
import { CERTIFICATE_EXPIRY_WARNING_DAYS, sameUpstreamTls } from '../../src/tls/tls-files.js'
import { createUpstreamAgent, tlsFailureCause } from '../../src/tls/upstream-tls.js'
import { createTestPki } from '../helpers/test-pki.js'
import { TEST_KEYS } from '../helpers/stack.js'

const pki = createTestPki()
t.teardown(() => pki.remove())
const ca = pki.authority('Config CA')
const server = ca.issue('gateway', { ip: ['127.0.0.1'] })
const other = ca.issue('other', { ip: ['127.0.0.1'] })
const expired = ca.issue('expired', { ip: ['127.0.0.1'], days: -1 })
const client = ca.issue('client', { usage: 'client' })
const longLived = ca.issue('long-lived', { ip: ['127.0.0.1'], days: 30 })
const base = { upstream: { url: 'http://127.0.0.1:9' }, keys: TEST_KEYS, default_signed_response_alg: 'ES256', state: { secrets: ['a-test-secret-for-sealing-flow-state-0123456789'] } }
const notPem = join(pki.dir, 'not-pem.txt')
writeFileSync(notPem, 'hello\n')
const unreadable = join(pki.dir, 'unreadable.pem')
writeFileSync(unreadable, server.cert)
chmodSync(unreadable, 0o000)
const brokenPem = join(pki.dir, 'broken.crt')
writeFileSync(brokenPem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')

async function problemsOf (config: Record<string, unknown>, now?: () => number): Promise<readonly string[]> {
  try {
    await buildConfig({ ...base, ...config }, pki.dir, now)
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.problems
  }
}

t.test('listen.tls: every file problem with its setting path', async (t) => {
  t.same(await problemsOf({ listen: { tls: { cert_file: 'nope.crt', key_file: 'nope.key' } } }), [
    `listen.tls.cert_file: cannot read ${join(pki.dir, 'nope.crt')} (ENOENT)`,
    `listen.tls.key_file: cannot read ${join(pki.dir, 'nope.key')} (ENOENT)`,
  ], 'paths are relative to the config file')
  if (process.getuid?.() !== 0) t.match(await problemsOf({ listen: { tls: { cert_file: unreadable, key_file: server.keyFile } } }), [/listen\.tls\.cert_file: cannot read .* \(EACCES\)/])
  t.same(await problemsOf({ listen: { tls: { cert_file: notPem, key_file: notPem } } }), [
    `listen.tls.cert_file: ${notPem} holds no PEM certificate`,
    `listen.tls.key_file: ${notPem} holds no readable PEM private key (encrypted keys are not supported)`,
  ])
  t.same(await problemsOf({ listen: { tls: { cert_file: brokenPem, key_file: server.keyFile } } }), [`listen.tls.cert_file: ${brokenPem} holds a certificate that cannot be read`])
  t.same(await problemsOf({ listen: { tls: { cert_file: server.certFile, key_file: other.keyFile } } }), [`listen.tls.key_file: the key in ${other.keyFile} does not match the certificate in listen.tls.cert_file (${server.certFile})`])
  t.match(await problemsOf({ listen: { tls: { cert_file: expired.certFile, key_file: expired.keyFile } } }), [/^listen\.tls\.cert_file: the certificate in .* \(CN=expired\) expired on \d{4}-/])
  t.match(await problemsOf({ listen: { tls: { cert_file: server.certFile, key_file: server.keyFile } } }, () => Date.now() - 86_400_000), [/^listen\.tls\.cert_file: .* is not valid before/], 'a certificate from the future')
  t.same(await problemsOf({ listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_certificate_header: 'x-ssl-client-cert' } } }), ['listen.tls.client_certificate_header: needs listen.tls.client_ca_file (only a verified client certificate is forwarded)'])
  t.same(await problemsOf({ listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_certificates: 'required' } } }), ['listen.tls.client_certificates: "required" needs listen.tls.client_ca_file (the CAs client certificates are verified against)'])
  t.match(await problemsOf({ listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: expired.certFile } } }), [/listen\.tls\.client_ca_file: the certificate in .* expired/], 'a CA bundle whose every certificate expired')
  t.match(await problemsOf({ listen: { tls: { cert_file: server.certFile } } }), [/listen\.tls\.key_file: is required/])
})

t.test('upstream.tls: problems with their paths; an http:// URL cannot take it', async (t) => {
  t.same(await problemsOf({ upstream: { url: 'http://127.0.0.1:9', tls: { ca_file: ca.certFile } } }), ['upstream.tls: needs an https:// upstream.url'])
  t.same(await problemsOf({ upstream: { url: 'https://127.0.0.1:9', tls: { cert_file: client.certFile } } }), ['upstream.tls.key_file: is required with upstream.tls.cert_file'])
  t.same(await problemsOf({ upstream: { url: 'https://127.0.0.1:9', tls: { key_file: client.keyFile } } }), ['upstream.tls.cert_file: is required with upstream.tls.key_file'])
  t.same(await problemsOf({ upstream: { url: 'https://127.0.0.1:9', tls: { ca_file: 'missing-ca.pem', cert_file: client.certFile, key_file: server.keyFile } } }), [
    `upstream.tls.ca_file: cannot read ${join(pki.dir, 'missing-ca.pem')} (ENOENT)`,
    `upstream.tls.key_file: the key in ${server.keyFile} does not match the certificate in upstream.tls.cert_file (${client.certFile})`,
  ])
  t.match(await problemsOf({ upstream: { url: 'https://127.0.0.1:9', tls: { servername: 'not a name' } } }), [/upstream\.tls\.servername: must match pattern/])
  const config = await buildConfig({ ...base, upstream: { url: 'https://127.0.0.1:9', tls: { ca_file: ca.certFile, cert_file: client.certFile, key_file: client.keyFile, servername: 'idp.internal' } } }, pki.dir)
  t.equal(config.upstream.tls?.servername, 'idp.internal')
  t.equal(config.upstream.tls?.ca?.toString(), ca.cert)
})

t.test('warnings: expiring within 14 days, expired CAs among valid ones, settings that do nothing', async (t) => {
  const bundle = join(pki.dir, 'bundle.pem')
  writeFileSync(bundle, ca.cert + expired.cert)
  const config = await buildConfig({ ...base, listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: bundle, client_certificate_header: 'X-SSL-Client-Cert' } } }, pki.dir)
  t.equal(config.listen.tls?.clientCertificateHeader, 'x-ssl-client-cert', 'header names are lower case')
  t.ok(config.warnings.some((w) => /^listen\.tls\.client_ca_file: the certificate in .* \(CN=expired\) expired/.test(w)), 'an expired CA in a bundle is a warning')
  t.ok(config.warnings.some((w) => /client_certificates is "none"/.test(w)), 'a header with no certificate asked for')
  const expiryWarnings = async (pair: { certFile: string, keyFile: string }): Promise<string[]> => (await buildConfig({ ...base, listen: { tls: { cert_file: pair.certFile, key_file: pair.keyFile } } }, pki.dir)).warnings.filter((w) => new RegExp(`^listen\\.tls\\.cert_file: the certificate in .* expires on .*, within ${CERTIFICATE_EXPIRY_WARNING_DAYS} days$`).test(w))
  t.equal((await expiryWarnings(server)).length, 1, 'a certificate that expires in two days: a warning')
  t.same(await expiryWarnings(longLived), [], 'one valid for 30 days: none')
  const required = await buildConfig({ ...base, listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: ca.certFile, client_certificates: 'required' } } }, pki.dir)
  t.ok(required.warnings.some((w) => /observability\.admin_port/.test(w)), 'required client certificates: probes need the admin port')
})

t.test('--check-config names the settings and exits 1; the warnings of a valid one are printed', async (t) => {
  const file = join(pki.dir, 'check.json')
  writeFileSync(file, JSON.stringify({ ...base, listen: { tls: { cert_file: expired.certFile, key_file: server.keyFile, client_certificate_header: 'x-ssl-client-cert' } } }))
  const errors: string[] = []
  const silent = createLogger({ level: 'silent' })
  t.equal(await main(['--config', file, '--check-config'], { log: () => {}, error: (line) => errors.push(line) }, silent, {}), 1)
  t.match(errors.join('\n'), /listen\.tls\.cert_file: the certificate in .* expired on/)
  t.match(errors.join('\n'), /listen\.tls\.key_file: the key in .* does not match/)
  t.match(errors.join('\n'), /listen\.tls\.client_certificate_header: needs listen\.tls\.client_ca_file/)
  t.notMatch(errors.join('\n'), /BEGIN|PRIVATE/, 'no file contents')
  writeFileSync(file, JSON.stringify({ ...base, listen: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: ca.certFile } } }))
  const lines: string[] = []
  t.equal(await main(['--config', file, '--check-config'], { log: (line) => lines.push(line), error: () => {} }, silent, {}), 0)
  t.match(lines.join('\n'), /warning: listen\.tls\.client_certificates|configuration is valid/)
  t.equal(await main(['--config', file, '--check-config'], { log: () => {}, error: () => {} }, silent, { JARM_GATEWAY_LISTEN_TLS_KEY_FILE: other.keyFile }), 1, 'the variables are checked too')
})

t.test('tlsFailureCause: what each code means; non-TLS failures are not TLS failures', async (t) => {
  const error = (code: string, message = 'x'): NodeJS.ErrnoException => Object.assign(new Error(message), { code })
  t.match(tlsFailureCause(error('SELF_SIGNED_CERT_IN_CHAIN'), true), /not signed by a trusted CA/)
  t.match(tlsFailureCause(error('CERT_NOT_YET_VALID'), true), /validity/)
  t.match(tlsFailureCause(error('ERR_TLS_CERT_ALTNAME_INVALID'), true), /servername/)
  t.match(tlsFailureCause(error('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), true), /handshake .* failed/)
  t.match(tlsFailureCause(error('CERT_REVOKED'), true), /handshake .* failed/)
  t.match(tlsFailureCause(Object.assign(new Error('socket hang up')), false), /during the TLS handshake \(socket hang up\)/)
  t.equal(tlsFailureCause(error('ECONNRESET'), true), undefined, 'a reset after the handshake is a bad response')
  t.equal(tlsFailureCause(error('ECONNREFUSED'), false), undefined)
})

t.test('HTTPS on listen: the health check pins the certificate; required client certificates; a throwing request is one error page', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ level: 'debug', destination: new Writable({ write (chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } }) })
  const config = await buildConfig({ ...base, listen: { host: '127.0.0.1', port: 0, tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: ca.certFile, client_certificates: 'required' } }, observability: { admin_port: 0 } }, pki.dir)
  const running = serve(await listen('127.0.0.1', 0, config.listen.tls), config, logger, undefined, await listen('127.0.0.1', 0))
  t.teardown(() => { running.server.closeAllConnections(); return running.close() })
  t.match(running.url, /^https:\/\//)
  const port = Number(new URL(running.url).port)
  const ask = (options: { cert?: string, key?: string }): Promise<number> => new Promise((resolve, reject) => {
    const req = httpsRequest(new URL('/anything', running.url), { ca: ca.cert, agent: false, ...options }, (res) => { res.resume(); resolve(res.statusCode!) })
    req.on('error', reject)
    req.end()
  })
  await t.rejects(ask({}), 'no client certificate: the handshake is refused')
  t.equal(await ask({ cert: client.cert, key: client.key }), 502, 'with one: the request reaches the gateway (the upstream is down)')

  // The health check, as the container runs it against the main port: HTTPS, this certificate only.
  const optionalTls = { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: ca.certFile, client_certificates: 'optional' }
  const mainServer = await listen('127.0.0.1', 0, (await buildConfig({ ...base, listen: { tls: optionalTls } }, pki.dir)).listen.tls)
  const mainPort = (mainServer.address() as AddressInfo).port
  const open = await buildConfig({ ...base, listen: { host: '0.0.0.0', port: mainPort, tls: optionalTls } }, pki.dir)
  const plainPort = serve(mainServer, open, logger)
  t.teardown(() => { mainServer.closeAllConnections(); return plainPort.close() })
  t.equal(healthUrl(open), `https://127.0.0.1:${mainPort}/healthz`)
  t.same(await checkHealth(open), { healthy: true, detail: `https://127.0.0.1:${mainPort}/healthz: HTTP 200` })
  const impostor = await buildConfig({ ...base, listen: { host: '127.0.0.1', port, tls: { cert_file: other.certFile, key_file: other.keyFile } } }, pki.dir)
  const pinned = await checkHealth(impostor)
  t.equal(pinned.healthy, false)
  t.match(pinned.detail, /not the one in listen\.tls\.cert_file/)

  // Whatever the handling of a request throws is that request's 500 page and one log line.
  Object.defineProperty(running.gateway, 'handle', { value: () => { throw new Error('a bug') } })
  t.equal(await ask({ cert: client.cert, key: client.key }), 500)
  t.ok(lines.some((l) => l['event'] === 'request.failed' && l['code'] === 'internal_error' && l['cause'] === 'a bug'))
  // After its head was sent, the response can only be cut.
  Object.defineProperty(running.gateway, 'handle', { value: (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200); res.write('partial'); throw new Error('a late bug') } })
  await t.rejects(new Promise((resolve, reject) => {
    const req = httpsRequest(new URL('/anything', running.url), { ca: ca.cert, agent: false, cert: client.cert, key: client.key }, (res) => { res.on('data', () => {}); res.on('end', resolve); res.on('error', reject) })
    req.on('error', reject)
    req.end()
  }), 'the response is cut')
  t.ok(lines.some((l) => l['event'] === 'request.failed' && l['cause'] === 'a late bug'))
  // The page carries the request's own id when it sent one.
  Object.defineProperty(running.gateway, 'handle', { value: () => { throw new Error('a bug with an id') } })
  const withId = await new Promise<string | undefined>((resolve, reject) => {
    const req = httpsRequest(new URL('/anything', running.url), { ca: ca.cert, agent: false, cert: client.cert, key: client.key, headers: { 'x-request-id': 'req-42' } }, (res) => { res.resume(); resolve(res.headers['x-request-id'] as string | undefined) })
    req.on('error', reject)
    req.end()
  })
  t.equal(withId, 'req-42')
  t.equal(running.reloadTls({ ...config, listen: { ...config.listen, tls: { ...config.listen.tls!, key: Buffer.from('not a key') } } }), false, 'unusable material is refused')
  t.ok(lines.some((l) => l['event'] === 'tls.reload_failed'))
})

t.test('the health check gives up on a gateway that does not answer', async (t) => {
  const silent = createHttpsServer({ cert: server.cert, key: server.key }, () => { /* never answers */ })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.closeAllConnections(); silent.close() })
  const config = await buildConfig({ ...base, listen: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port, tls: { cert_file: server.certFile, key_file: server.keyFile } } }, pki.dir)
  t.match(await checkHealth(config), { healthy: false, detail: /no answer within/ })
})

t.test('a synchronous throw inside http-proxy is the request\'s error, not the process\'s end', async (t) => {
  // The original crash: an HTTP agent for an https:// target makes https.request throw ERR_INVALID_PROTOCOL inside proxy.web().
  const proxy = new UpstreamProxy('https://127.0.0.1:9', 1000, undefined, new Agent())
  t.teardown(() => proxy.close())
  const front = await listen('127.0.0.1', 0)
  t.teardown(() => front.close())
  const errors: Array<{ code: string, cause: string }> = []
  front.on('request', (req, res) => {
    proxy.forward(req, res, {
      onResponse: () => res.end('unexpected'),
      onError: (error) => {
        errors.push({ code: error.code, cause: (error.cause as NodeJS.ErrnoException).code! })
        res.writeHead(error.status).end(error.code)
      },
    })
  })
  const response = await fetch(`http://127.0.0.1:${(front.address() as AddressInfo).port}/`)
  t.equal(response.status, 500)
  t.equal(await response.text(), 'internal_error')
  t.same(errors, [{ code: 'internal_error', cause: 'ERR_INVALID_PROTOCOL' }])
})

t.test('the upstream agent: the name verified is servername, else the URL host, never an IP address as SNI', async (t) => {
  const servername = (url: string, tls?: { servername?: string }): unknown => (createUpstreamAgent(url, tls) as unknown as { options: { servername?: string } }).options.servername
  t.equal(servername('https://idp.internal:9443'), 'idp.internal')
  t.equal(servername('https://127.0.0.1:9443'), '')
  t.equal(servername('https://[::1]:9443'), '')
  t.equal(servername('https://10.0.0.5', { servername: 'idp.internal' }), 'idp.internal')
  t.equal(servername('http://127.0.0.1:9000'), undefined, 'plain HTTP: no TLS options')
  const tls = { ca: Buffer.from('a'), servername: 'x' }
  t.ok(sameUpstreamTls(undefined, undefined))
  t.notOk(sameUpstreamTls(tls, undefined))
  t.ok(sameUpstreamTls(tls, { ca: Buffer.from('a'), servername: 'x' }), 'the same contents')
  t.notOk(sameUpstreamTls(tls, { ca: Buffer.from('b'), servername: 'x' }), 'a file rotated in place is a change')
  t.notOk(sameUpstreamTls(tls, { servername: 'x' }))
})

t.test('a CA bundle whose certificates are not valid yet: warnings, not problems', async (t) => {
  const bundle = join(pki.dir, 'future-bundle.pem')
  writeFileSync(bundle, ca.cert + expired.cert)
  const config = await buildConfig({ ...base, upstream: { url: 'https://127.0.0.1:9', tls: { ca_file: bundle } } }, pki.dir, () => Date.now() - 3 * 86_400_000)
  t.equal(config.warnings.filter((w) => /^upstream\.tls\.ca_file: .* is not valid before/.test(w)).length, 2)
})

t.test('HTTPS without client certificates: no certificate is asked for, requests are served', async (t) => {
  const config = await buildConfig({ ...base, listen: { tls: { cert_file: server.certFile, key_file: server.keyFile } } }, pki.dir)
  const running = serve(await listen('127.0.0.1', 0, config.listen.tls), config, createLogger({ level: 'silent' }))
  t.teardown(() => { running.server.closeAllConnections(); return running.close() })
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(new URL('/healthz', running.url), { ca: ca.cert, agent: false }, (res) => { res.resume(); resolve(res.statusCode!) })
    req.on('error', reject)
    req.end()
  })
  t.equal(status, 200)
})

t.test('a reload that adds listen.tls to a plain HTTP gateway: said to wait for the next start', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ destination: new Writable({ write (chunk: Buffer, _e, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } }) })
  const running = serve(await listen('127.0.0.1', 0), await buildConfig(base, pki.dir), logger)
  t.teardown(() => running.close())
  const withTls = await buildConfig({ ...base, listen: { tls: { cert_file: server.certFile, key_file: server.keyFile } } }, pki.dir)
  const reloader = reloadOnSignal('gateway.config.json', running.gateway, logger, 'SIGUSR2', async () => withTls, running.reloadTls)
  t.teardown(() => reloader.stop())
  t.equal(await reloader.reload(), true, 'the rest of the configuration is reloaded')
  t.ok(lines.some((l) => l['event'] === 'config.reload_listen_ignored' && /listen\.tls takes effect only at the next start/.test(l['msg'] as string)))
  t.match(running.url, /^http:\/\//)
  const refused = reloadOnSignal('gateway.config.json', running.gateway, logger, 'SIGUSR2', async () => withTls, () => false)
  t.teardown(() => refused.stop())
  t.equal(await refused.reload(), false, 'certificate files the listener cannot use refuse the whole reload')
})
