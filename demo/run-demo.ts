/**
 * `npm run demo`: the whole product on this machine. A legacy server (oidc-provider, JARM off) on the
 * shipped config's upstream port, jarm-gateway in front of it with the shipped gateway.config.json,
 * and a small client app whose callback page shows the JARM response verified and decoded.
 */
import { join } from 'node:path'
import { loadConfigFile, type GatewayConfig } from '../src/config/load-config.js'
import { packageRoot } from '../src/config/package-root.js'
import { createLogger, type Logger } from '../src/observability/logger.js'
import { addressOf, listen, serve, type RunningGateway } from '../src/server.js'
import { DEMO_CLIENT, DEMO_CLIENT_SECRET, DEMO_RESPONSE_TYPES, startDemoClient, type DemoClient } from './demo-client.js'
import { startLegacyServer, type LegacyServer } from './legacy-server.js'

export const DEMO_CLIENT_PORT = 3000

export interface Demo {
  readonly gateway: RunningGateway
  readonly legacy: LegacyServer
  readonly client: DemoClient
  readonly issuer: string
  close (): Promise<void>
}

/** Ports default to the shipped configuration's (0 everywhere for the tests). */
export async function runDemo (options: { config?: GatewayConfig, gatewayPort?: number, legacyPort?: number, clientPort?: number, logger?: Logger } = {}): Promise<Demo> {
  const shipped = options.config ?? await loadConfigFile(join(packageRoot(), 'gateway.config.json'))
  const gatewayServer = await listen(shipped.listen.host, options.gatewayPort ?? shipped.listen.port)
  const issuer = shipped.issuer ?? addressOf(gatewayServer)
  const client = await startDemoClient({ issuer, port: options.clientPort ?? DEMO_CLIENT_PORT })
  const legacy = await startLegacyServer({
    issuer,
    port: options.legacyPort ?? Number(new URL(shipped.upstream.url).port),
    clients: [{
      client_id: DEMO_CLIENT.client_id,
      client_secret: DEMO_CLIENT_SECRET,
      redirect_uris: [`${client.url}/callback`],
      response_types: [...DEMO_RESPONSE_TYPES],
      // oidc-provider allows the implicit grant (for code id_token) over http only on a native
      // client's loopback redirect; the demo app runs on 127.0.0.1 like one.
      application_type: 'native',
      grant_types: ['authorization_code', 'implicit'],
    }],
  })
  const config: GatewayConfig = { ...shipped, upstream: { ...shipped.upstream, url: legacy.url } }
  const logger = options.logger ?? createLogger()
  for (const warning of config.warnings) logger.warn({ event: 'config.warning' }, warning)
  const gateway = serve(gatewayServer, config, logger)
  await gateway.gateway.start()
  return {
    gateway, legacy, client, issuer,
    close: async () => {
      gatewayServer.closeAllConnections()
      await gateway.close()
      await legacy.close()
      await client.close()
    },
  }
}

if (process.argv[1]?.endsWith('run-demo.js') === true) {
  const demo = await runDemo()
  console.log(`
jarm-gateway demo
  legacy server (oidc-provider, JARM off): ${demo.legacy.url}
  jarm-gateway in front of it:             ${demo.gateway.url}  (issuer ${demo.issuer})
  demo client app:                         ${demo.client.url}

Open ${demo.client.url}/ in a browser and pick a response mode, or go straight to
  ${demo.client.url}/start?mode=query.jwt
Log in with any name and password; the callback page shows the JARM response verified and decoded.
Ctrl-C stops everything.
`)
  process.once('SIGINT', () => { demo.close().then(() => process.exit(0), () => process.exit(1)) })
  process.once('SIGTERM', () => { demo.close().then(() => process.exit(0), () => process.exit(1)) })
}
