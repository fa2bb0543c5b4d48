/**
 * The HTTP server around the gateway: listening (HTTPS with listen.tls), the operator's endpoints
 * (on the main port or an admin port), and a graceful stop (readiness turns 503, stop accepting,
 * let requests in flight finish within listen.drain_timeout_ms, then close what is left). Whatever
 * a request's handling throws becomes that request's error page, never the end of the process.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { Server as HttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { GatewayConfig } from './config/load-config.js'
import { GatewayError } from './errors.js'
import { Gateway } from './gateway.js'
import { AdminRoutes } from './observability/admin-routes.js'
import type { Logger } from './observability/logger.js'
import { errorPage } from './respond/error-page.js'
import { applyListenTls, createTlsServer, setClientCertificateHeader } from './tls/listen-tls.js'
import type { ListenTls } from './tls/tls-files.js'

export interface RunningGateway {
  readonly server: Server
  readonly gateway: Gateway
  /** http://host:port (https:// with listen.tls) the gateway listens on */
  readonly url: string
  readonly admin: AdminRoutes
  /** http://host:port of the admin port, when one is configured. */
  readonly adminUrl: string | undefined
  /** Drains and stops; resolves `true` when every request finished within the drain timeout. */
  close (): Promise<boolean>
  /**
   * Swaps a reloaded configuration's listen.tls files in for new connections (SIGHUP); returns
   * false, logged, when they cannot be used (the running certificate stays).
   */
  reloadTls (config: GatewayConfig): boolean
}

/**
 * Binds the server first (port 0 picks a free one), so callers can learn the address before the
 * upstream is known. With `tls`, the port serves HTTPS only.
 */
export function listen (host: string, port: number, tls?: ListenTls): Promise<Server> {
  const server: Server = tls === undefined ? createServer() : createTlsServer(tls)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

export function addressOf (server: Server): string {
  const { address, port, family } = server.address() as AddressInfo
  return `${server instanceof HttpsServer ? 'https' : 'http'}://${family === 'IPv6' ? `[${address}]` : address}:${port}`
}

/** The last resort of a request whose handling threw synchronously: its own error page and one log line. */
function failedRequest (error: unknown, req: IncomingMessage, res: ServerResponse, logger: Logger): void {
  const incomingId = req.headers['x-request-id']
  const id = typeof incomingId === 'string' ? incomingId : randomUUID()
  const failure = new GatewayError('internal_error', 'the gateway failed to handle this request', { cause: error })
  logger.error({ event: 'request.failed', requestId: id, method: req.method, code: failure.code, status: failure.status, cause: (error as Error).message }, failure.message)
  if (res.headersSent) {
    res.destroy()
    return
  }
  const page = errorPage(failure, id)
  res.writeHead(page.status, { ...page.headers, 'content-length': String(Buffer.byteLength(page.body)), 'x-request-id': id }).end(page.body)
}

/**
 * Attaches a gateway to a listening server. With `adminServer`, the operator's endpoints are served
 * there only (anything else gets a 404) and every path of the main port goes to the gateway.
 */
export function serve (server: Server, config: GatewayConfig, logger: Logger, now?: () => number, adminServer?: Server): RunningGateway {
  const gateway = new Gateway(config, logger, now)
  const admin = new AdminRoutes(gateway, config.observability, logger)
  // Connections, not requests, are tracked for the drain: a set that held every response while it
  // ran cost ~50 µs of CPU per passthrough request (an old-generation table full of young objects
  // makes every scavenge dearer; BENCHMARKS.md); connections are few and long-lived.
  const connections = new Set<Socket>()
  // Over TLS the HTTP exchange (and its `_httpMessage`) lives on the TLS socket.
  server.on(server instanceof HttpsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    connections.add(socket)
    socket.once('close', () => connections.delete(socket))
  })
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      setClientCertificateHeader(req, gateway.config.listen.tls)
      if (adminServer === undefined && admin.handle(req, res)) return
      gateway.handle(req, res)
    } catch (error) {
      failedRequest(error, req, res, logger)
    }
  }
  server.on('request', onRequest)
  if (adminServer !== undefined) {
    adminServer.on('request', (req, res) => { if (!admin.handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n') })
  }
  return {
    server,
    gateway,
    url: addressOf(server),
    admin,
    adminUrl: adminServer === undefined ? undefined : addressOf(adminServer),
    reloadTls: (next: GatewayConfig): boolean => {
      if (!(server instanceof HttpsServer) || next.listen.tls === undefined) return true
      try {
        applyListenTls(server, next.listen.tls)
        logger.info({ event: 'tls.reloaded', certFile: next.listen.tls.certFile }, 'listen.tls: new connections get the certificate just read')
        return true
      } catch (error) {
        logger.error({ event: 'tls.reload_failed', certFile: next.listen.tls.certFile, err: (error as Error).message }, 'listen.tls: the files read cannot be used; the running certificate stays')
        return false
      }
    },
    close: () => new Promise<boolean>((resolve) => {
      admin.startDraining()
      // A response in flight is the last on its connection: the drain need not wait for the
      // client's keep-alive to expire. Node keeps the response in progress on its socket
      // (`_httpMessage`, read the same way by http-terminator); an idle connection has none.
      for (const socket of connections) {
        const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
        if (res === undefined || res === null) continue
        if (!res.headersSent) res.setHeader('connection', 'close')
        res.once('finish', () => socket.end())
      }
      let drained = true
      const force = setTimeout(() => {
        drained = false
        server.closeAllConnections()
      }, config.listen.drainTimeoutMs)
      server.close(() => {
        clearTimeout(force)
        gateway.close()
        if (adminServer === undefined) {
          resolve(drained)
          return
        }
        adminServer.close(() => resolve(drained))
        adminServer.closeAllConnections()
      })
      // Idle keep-alive connections go now; busy ones after their response.
      server.closeIdleConnections()
    }),
  }
}

export async function startGateway (config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  const { adminPort, adminHost } = config.observability
  const server = await listen(config.listen.host, config.listen.port, config.listen.tls)
  const adminServer = adminPort === undefined ? undefined : await listen(adminHost, adminPort)
  const running = serve(server, config, logger, undefined, adminServer)
  for (const warning of config.warnings) logger.warn({ event: 'config.warning' }, warning)
  logger.info({ event: 'listening', url: running.url, adminUrl: running.adminUrl, upstream: config.upstream.url }, `jarm-gateway listening on ${running.url}, fronting ${config.upstream.url}`)
  try {
    const metadata = await running.gateway.start()
    logger.info({ event: 'metadata.loaded', issuer: metadata.issuer, authorizationEndpoint: metadata.authorizationEndpointPath }, `legacy server discovery read: issuer ${metadata.issuer}`)
  } catch (error) {
    logger.warn({ event: 'metadata.unavailable', err: (error as Error).message }, 'the legacy server discovery document could not be read yet; it is fetched again on the next request')
  }
  return running
}
