/**
 * jarm-gateway [--config FILE] [--check-config] [--health-check] [--generate-key ALG]
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile } from '../config/load-config.js'
import { ASYMMETRIC_ALGS, type AsymmetricAlg } from '../jarm/sign-jwt.js'
import { generatePrivateJwk } from '../keys/signing-keys.js'
import type { Logger } from '../observability/logger.js'
import { startGateway, type RunningGateway } from '../server.js'
import { checkHealth } from './health-check.js'
import { reloadOnSignal } from './reload-on-signal.js'

const USAGE = `usage: jarm-gateway [--config FILE] [--check-config] [--health-check] [--generate-key ALG]
  --config FILE       the configuration (default $JARM_GATEWAY_CONFIG, else ./gateway.config.json);
                      JARM_GATEWAY_* environment variables override its settings
  --check-config      validate the configuration, print every problem, exit 0 or 1
  --health-check      ask the running gateway's liveness endpoint (for a container HEALTHCHECK), exit 0 or 1
  --generate-key ALG  print a new private JWKS for ALG (${ASYMMETRIC_ALGS.join(', ')})
`

/**
 * Runs the command. Returns an exit code, or the running gateway when it was started (the caller
 * owns signals and the process).
 */
export async function main (argv: string[], out: { log: (line: string) => void, error: (line: string) => void }, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<number | RunningGateway> {
  let options
  try {
    options = parseArgs({ args: argv, options: { config: { type: 'string', default: env['JARM_GATEWAY_CONFIG'] ?? 'gateway.config.json' }, 'check-config': { type: 'boolean' }, 'health-check': { type: 'boolean' }, 'generate-key': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values
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
    config = await loadConfigFile(options.config, env)
  } catch (error) {
    // loadConfigFile reports every problem as one ConfigError.
    out.error(`${options.config}: ${(error as ConfigError).message}`)
    return 1
  }
  if (options['check-config'] === true) {
    out.log(`${options.config}: configuration is valid`)
    for (const warning of config.warnings) out.log(`warning: ${warning}`)
    return 0
  }
  if (options['health-check'] === true) {
    const { healthy, detail } = await checkHealth(config)
    ;(healthy ? out.log : out.error)(detail)
    return healthy ? 0 : 1
  }
  const running = await startGateway(config, logger)
  // SIGHUP: read the configuration and keys again, without dropping a request (reload-on-signal.ts).
  const reloader = reloadOnSignal(options.config, running.gateway, logger, 'SIGHUP', (file) => loadConfigFile(file, env), running.reloadTls)
  return { ...running, close: () => { reloader.stop(); return running.close() } }
}
