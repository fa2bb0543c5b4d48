/**
 * The HTTP server around the gateway: listening, and a graceful stop (stop accepting, let requests
 * in flight finish within a drain timeout, then close what is left).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { GatewayConfig } from './config/load-config.js'
import { Gateway } from './gateway.js'
import type { Logger } from './observability/logger.js'

/** How long a stop waits for requests in flight before closing their connections. */
export const DRAIN_TIMEOUT_MS = 10_000

export interface RunningGateway {
  readonly server: Server
  readonly gateway: Gateway
  /** http://host:port the gateway listens on */
  readonly url: string
  close (): Promise<void>
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

/** Attaches a gateway to a listening server. */
export function serve (server: Server, config: GatewayConfig, logger: Logger, now?: () => number): RunningGateway {
  const gateway = new Gateway(config, logger, now)
  server.on('request', gateway.handle)
  const url = addressOf(server)
  return {
    server,
    gateway,
    url,
    close: () => new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS)
      force.unref()
      server.close(() => {
        clearTimeout(force)
        gateway.close()
        resolve()
      })
      server.closeIdleConnections()
    }),
  }
}

export async function startGateway (config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  const running = serve(await listen(config.listen.host, config.listen.port), config, logger)
  for (const warning of config.warnings) logger.warn({ event: 'config.warning' }, warning)
  logger.info({ event: 'listening', url: running.url, upstream: config.upstream.url }, `jarm-gateway listening on ${running.url}, fronting ${config.upstream.url}`)
  try {
    const metadata = await running.gateway.start()
    logger.info({ event: 'metadata.loaded', issuer: metadata.issuer, authorizationEndpoint: metadata.authorizationEndpointPath }, `legacy server discovery read: issuer ${metadata.issuer}`)
  } catch (error) {
    logger.warn({ event: 'metadata.unavailable', err: (error as Error).message }, 'the legacy server discovery document could not be read yet; it is fetched again on the next request')
  }
  return running
}
