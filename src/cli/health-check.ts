/**
 * `jarm-gateway --health-check`: the container's HEALTHCHECK. Asks the running gateway's liveness
 * endpoint at the address and path of the same configuration (file and environment), so the check
 * follows the port and path wherever they are set. Exit 0 when it answers 200.
 *
 * Over HTTPS (listen.tls, no admin port) the gateway is reached by loopback, where the certificate's
 * names do not apply: the check accepts exactly the certificate of listen.tls.cert_file (pinned by
 * its SHA-256 fingerprint) and nothing else.
 */
import { X509Certificate } from 'node:crypto'
import { get } from 'node:https'
import type { TLSSocket } from 'node:tls'
import type { GatewayConfig } from '../config/load-config.js'

/** A liveness answer takes microseconds; a gateway that cannot give one in this time is not healthy. */
export const HEALTH_CHECK_TIMEOUT_MS = 3000

/** Where the gateway's liveness endpoint is, seen from inside its own container. */
export function healthUrl (config: GatewayConfig): string {
  const { adminPort, adminHost, healthPath } = config.observability
  const host = adminPort === undefined ? config.listen.host : adminHost
  const port = adminPort ?? config.listen.port
  const scheme = adminPort === undefined && config.listen.tls !== undefined ? 'https' : 'http'
  // A wildcard address is reached on loopback.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
  return `${scheme}://${reachable}:${port}${healthPath}`
}

/** GET over HTTPS that accepts only the certificate `pinned` (PEM, leaf first); resolves to the status. */
function pinnedGet (url: string, pinned: Buffer): Promise<number> {
  const expected = new X509Certificate(pinned).fingerprint256
  return new Promise((resolve, reject) => {
    // Verification is the pin below, not the CA store: the loopback name is in no certificate.
    const req = get(url, { rejectUnauthorized: false, servername: '', timeout: HEALTH_CHECK_TIMEOUT_MS }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    })
    req.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        if ((socket as TLSSocket).getPeerCertificate().fingerprint256 !== expected) req.destroy(new Error('the certificate served is not the one in listen.tls.cert_file'))
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)))
    req.on('error', reject)
  })
}

export async function checkHealth (config: GatewayConfig): Promise<{ healthy: boolean, detail: string }> {
  const url = healthUrl(config)
  try {
    let status: number
    if (url.startsWith('https:')) {
      status = await pinnedGet(url, config.listen.tls!.cert)
    } else {
      const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_CHECK_TIMEOUT_MS) })
      await response.arrayBuffer()
      status = response.status
    }
    return { healthy: status === 200, detail: `${url}: HTTP ${status}` }
  } catch (error) {
    return { healthy: false, detail: `${url}: ${(error as Error).message}` }
  }
}
