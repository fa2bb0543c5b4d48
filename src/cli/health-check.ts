/**
 * `jarm-gateway --health-check`: the container's HEALTHCHECK. Asks the running gateway's liveness
 * endpoint at the address and path of the same configuration (file and environment), so the check
 * follows the port and path wherever they are set. Exit 0 when it answers 200.
 */
import type { GatewayConfig } from '../config/load-config.js'

/** A liveness answer takes microseconds; a gateway that cannot give one in this time is not healthy. */
export const HEALTH_CHECK_TIMEOUT_MS = 3000

/** Where the gateway's liveness endpoint is, seen from inside its own container. */
export function healthUrl (config: GatewayConfig): string {
  const { adminPort, adminHost, healthPath } = config.observability
  const host = adminPort === undefined ? config.listen.host : adminHost
  const port = adminPort ?? config.listen.port
  // A wildcard address is reached on loopback.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
  return `http://${reachable}:${port}${healthPath}`
}

export async function checkHealth (config: GatewayConfig): Promise<{ healthy: boolean, detail: string }> {
  const url = healthUrl(config)
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_CHECK_TIMEOUT_MS) })
    await response.arrayBuffer()
    return { healthy: response.status === 200, detail: `${url}: HTTP ${response.status}` }
  } catch (error) {
    return { healthy: false, detail: `${url}: ${(error as Error).message}` }
  }
}
