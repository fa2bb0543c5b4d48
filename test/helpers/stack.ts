/**
 * A whole deployment on loopback for a test: the gateway (one or more processes' worth, sharing
 * one configuration) in front of a real oidc-provider, every server on port 0.
 */
import type { Server } from 'node:http'
import { Writable } from 'node:stream'
import { buildConfig } from '../../src/config/load-config.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { createLogger, type Logger } from '../../src/observability/logger.js'
import { listen, serve, type RunningGateway } from '../../src/server.js'
import { startLegacyServer, type LegacyServer, type LegacyServerOptions } from '../../demo/legacy-server.js'

export const STATE_SECRET = 'a-test-secret-for-sealing-flow-state-0123456789'

/** Keys shared by every gateway of a test run, as replicas share one mounted JWKS. */
export const TEST_KEYS = { keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('RS256'), await generatePrivateJwk('EdDSA')] }

/** The public half of TEST_KEYS, as a verifier would hold it. */
export const TEST_PUBLIC_JWKS = { keys: TEST_KEYS.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk }) => publicJwk) }

export interface Stack {
  readonly gateways: RunningGateway[]
  /** The first gateway's address: the public origin of the identity server. */
  readonly gatewayUrl: string
  readonly issuer: string
  readonly legacy: LegacyServer
  /** Every log line the gateways wrote, parsed. */
  readonly logs: Array<Record<string, unknown>>
  readonly rawLogs: string[]
  /** The logger the gateways write to (for a reloader in the same test). */
  readonly logger: Logger
  close (): Promise<void>
}

export interface StackOptions {
  readonly issuerPath?: string
  /** Gateway settings merged over the defaults (upstream.url is filled in). */
  readonly config?: Record<string, unknown>
  readonly gateways?: number
  readonly legacy?: Omit<LegacyServerOptions, 'issuer'>
  /** Set the gateway's issuer explicitly (otherwise it comes from discovery). */
  readonly configureIssuer?: boolean
  /** The gateways' clock (milliseconds), to test expiry. */
  readonly now?: () => number
}

export async function startStack (options: StackOptions = {}): Promise<Stack> {
  const servers: Server[] = []
  for (let i = 0; i < (options.gateways ?? 1); i++) servers.push(await listen('127.0.0.1', 0))
  const { port } = servers[0]!.address() as { port: number }
  const gatewayUrl = `http://127.0.0.1:${port}`
  const issuer = gatewayUrl + (options.issuerPath ?? '')
  const legacy = await startLegacyServer({ issuer, httpPost: true, ...options.legacy })
  const rawLogs: string[] = []
  const logs: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      const line = chunk.toString('utf8')
      rawLogs.push(line)
      logs.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  const { upstream, ...rest } = options.config ?? {}
  const config = await buildConfig({
    upstream: { url: legacy.url, ...(upstream as object | undefined) },
    keys: TEST_KEYS,
    state: { secrets: [STATE_SECRET] },
    clients: { app1: { authorization_signed_response_alg: 'ES256' } },
    ...(options.configureIssuer === true ? { issuer } : {}),
    ...rest,
  }, process.cwd())
  const logger = createLogger({ level: 'debug', destination })
  const gateways = servers.map((server, index) => serve(server, config, logger.child({ gateway: index }), options.now))
  for (const gateway of gateways) await gateway.gateway.start()
  return {
    gateways,
    gatewayUrl,
    issuer,
    legacy,
    logs,
    rawLogs,
    logger,
    close: async () => {
      for (const gateway of gateways) {
        gateway.server.closeAllConnections()
        await gateway.close()
      }
      await legacy.close()
    },
  }
}
