/**
 * The gateway in a process of its own, so its CPU time and RSS are its own. It binds first (port 0)
 * and reports its address; the parent then sends `serve` with a raw configuration (as it would be in
 * gateway.config.json), which goes through the same buildConfig as the CLI. Logs are written as in
 * production (pino, info level unless JARM_GATEWAY_LOG_LEVEL says otherwise) to a stdout the
 * parent points at /dev/null. With BENCH_TLS_CERT_FILE and BENCH_TLS_KEY_FILE it serves HTTPS
 * (listen.tls) with them. `connections` reports how many connections it has accepted.
 */
import { buildConfig } from '../../src/config/load-config.js'
import { createLogger } from '../../src/observability/logger.js'
import { addressOf, listen, serve, type RunningGateway } from '../../src/server.js'
import { serveCommands } from '../lib/child-ipc.js'

const [certFile, keyFile] = [process.env['BENCH_TLS_CERT_FILE'], process.env['BENCH_TLS_KEY_FILE']]
const tls = certFile === undefined || keyFile === undefined ? undefined : (await buildConfig({ upstream: { url: 'http://127.0.0.1:1' }, listen: { tls: { cert_file: certFile, key_file: keyFile } } }, process.cwd())).listen.tls
const server = await listen('127.0.0.1', 0, tls)
let running: RunningGateway | undefined
/** Connections accepted so far (TLS or not): section 3 reports them per flow. */
let accepted = 0
server.on('connection', () => { accepted++ })

serveCommands(addressOf(server), {
  connections: () => ({ accepted }),
  serve: async (message) => {
    if (running !== undefined) throw new Error('already serving')
    const config = await buildConfig(message['config'], process.cwd())
    running = serve(server, config, createLogger())
    const metadata = await running.gateway.start()
    return { issuer: metadata.issuer }
  },
})
