/**
 * jarm-gateway [--config FILE] [--check-config] [--generate-key ALG]
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile } from '../config/load-config.js'
import { ASYMMETRIC_ALGS, type AsymmetricAlg } from '../jarm/sign-jwt.js'
import { generatePrivateJwk } from '../keys/signing-keys.js'
import { createLogger } from '../observability/logger.js'
import { startGateway } from '../server.js'
import { reloadOnSignal } from './reload-on-signal.js'

const USAGE = `usage: jarm-gateway [--config FILE] [--check-config] [--generate-key ALG]
  --config FILE       the configuration (default ./gateway.config.json)
  --check-config      validate the configuration, print every problem, exit 0 or 1
  --generate-key ALG  print a new private JWKS for ALG (${ASYMMETRIC_ALGS.join(', ')})
`

export async function main (argv: string[], out: { log: (line: string) => void, error: (line: string) => void } = console): Promise<number> {
  let options
  try {
    options = parseArgs({ args: argv, options: { config: { type: 'string', default: 'gateway.config.json' }, 'check-config': { type: 'boolean' }, 'generate-key': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values
  } catch (error) {
    out.error(`${(error as Error).message}\n${USAGE}`)
    return 2
  }
  if (options.help === true) { out.log(USAGE); return 0 }
  const alg = options['generate-key']
  if (alg !== undefined) {
    if (!(ASYMMETRIC_ALGS as readonly string[]).includes(alg)) { out.error(`--generate-key: ${alg} is not one of ${ASYMMETRIC_ALGS.join(', ')}`); return 2 }
    out.log(JSON.stringify({ keys: [await generatePrivateJwk(alg as AsymmetricAlg)] }, null, 2))
    return 0
  }
  let config
  try {
    config = await loadConfigFile(options.config)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    out.error(`${options.config}: ${error.message}`)
    return 1
  }
  if (options['check-config'] === true) {
    out.log(`${options.config}: configuration is valid`)
    for (const warning of config.warnings) out.log(`warning: ${warning}`)
    return 0
  }
  const logger = createLogger()
  const running = await startGateway(config, logger)
  // SIGHUP: read the configuration and keys again, without dropping a request (src/cli/reload-on-signal.ts).
  const reloader = reloadOnSignal(options.config, running.gateway, logger)
  const stop = (signal: string): void => {
    reloader.stop()
    logger.info({ event: 'stopping', signal }, `${signal}: draining requests in flight`)
    running.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return -1
}
