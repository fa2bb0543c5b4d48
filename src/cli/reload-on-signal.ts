/**
 * Rotation without downtime: on SIGHUP the configuration file is read and validated again and, when
 * it is sound, swapped into the running gateway (Gateway.reload). A broken file changes nothing: the
 * running configuration stays, and every problem is logged. Reloads run one after the other.
 */
import { ConfigError, loadConfigFile, type GatewayConfig } from '../config/load-config.js'
import type { Gateway } from '../gateway.js'
import type { Logger } from '../observability/logger.js'

export interface Reloader {
  /** Reads the file again and swaps it in; resolves to whether the new configuration is running. */
  reload (): Promise<boolean>
  /** Stops listening for the signal. */
  stop (): void
}

/**
 * @param reloadTls swaps the listen.tls files in (RunningGateway.reloadTls); false refuses the reload.
 * @param load reads and validates the file (the real loader; a test hands in a failing one to show
 *   that even an unexpected error leaves the running configuration in place).
 */
export function reloadOnSignal (file: string, gateway: Gateway, logger: Logger, signal: NodeJS.Signals = 'SIGHUP', load: (file: string) => Promise<GatewayConfig> = loadConfigFile, reloadTls: (config: GatewayConfig) => boolean = () => true): Reloader {
  let queue: Promise<boolean> = Promise.resolve(true)

  async function reloadOnce (): Promise<boolean> {
    let config
    try {
      config = await load(file)
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [`unexpected error: ${(error as Error).message}`]
      logger.error({ event: 'config.reload_failed', file, problems }, `${file}: reload refused, the running configuration stays:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
      return false
    }
    const running = gateway.config
    if (config.listen.host !== running.listen.host || config.listen.port !== running.listen.port) {
      logger.warn({ event: 'config.reload_listen_ignored' }, 'listen.host and listen.port take effect only at the next start')
    }
    if ((config.listen.tls === undefined) !== (running.listen.tls === undefined)) {
      logger.warn({ event: 'config.reload_listen_ignored' }, 'adding or removing listen.tls takes effect only at the next start')
    }
    // The certificate first: files it cannot use refuse the whole reload, as a broken config does.
    if (!reloadTls(config)) return false
    for (const warning of config.warnings) logger.warn({ event: 'config.warning' }, warning)
    gateway.reload(config)
    logger.info({ event: 'config.reloaded', file, kids: config.keyRing.keys.map((key) => key.kid) }, `${file}: configuration reloaded`)
    return true
  }

  const reload = (): Promise<boolean> => {
    queue = queue.then(reloadOnce)
    return queue
  }
  const onSignal = (): void => { void reload() }
  process.on(signal, onSignal)
  return { reload, stop: () => { process.off(signal, onSignal) } }
}
