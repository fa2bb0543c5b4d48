/**
 * The HTTP server around the gateway: listening, the operator's endpoints (on the main port or an
 * admin port), and a graceful stop (readiness turns 503, stop accepting, let requests in flight
 * finish within listen.drain_timeout_ms, then close what is left).
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { GatewayConfig } from './config/load-config.js'
import { Gateway } from './gateway.js'
import { AdminRoutes } from './observability/admin-routes.js'
import type { Logger } from './observability/logger.js'

export interface RunningGateway {
  readonly server: Server
  readonly gateway: Gateway
  /** http://host:port the gateway listens on */
  readonly url: string
  readonly admin: AdminRoutes
  /** http://host:port of the admin port, when one is configured. */
  readonly adminUrl: string | undefined
  /** Drains and stops; resolves `true` when every request finished within the drain timeout. */
  close (): Promise<boolean>
}

/** Binds the server first (port 0 picks a free one), so callers can learn the address before the upstream is known. */
export function listen (host: string, port: number): Promise<Server> {
  const server = createServer()
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
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`
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
  server.on('connection', (socket: Socket) => {
    connections.add(socket)
    socket.once('close', () => connections.delete(socket))
  })
  if (adminServer === undefined) {
    server.on('request', (req, res) => { if (!admin.handle(req, res)) gateway.handle(req, res) })
  } else {
    server.on('request', gateway.handle)
    adminServer.on('request', (req, res) => { if (!admin.handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n') })
  }
  return {
    server,
    gateway,
    url: addressOf(server),
    admin,
    adminUrl: adminServer === undefined ? undefined : addressOf(adminServer),
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
  const server = await listen(config.listen.host, config.listen.port)
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
