#!/usr/bin/env node
// The `jarm-gateway` command: the process around main.ts (exit codes and signals).
import { createLogger } from '../observability/logger.js'
import { main } from './main.js'

const logger = createLogger()
const result = await main(process.argv.slice(2), console, logger).catch((error: unknown) => {
  // Start-up failures past the config check: the port is taken, the address is not local, ...
  console.error(`jarm-gateway: cannot start: ${(error as Error).message}`)
  return 1
})
if (typeof result === 'number') {
  process.exitCode = result
} else {
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ event: 'stopping', signal, drainTimeoutMs: result.gateway.config.listen.drainTimeoutMs }, `${signal}: no new connections; draining requests in flight`)
    void result.close().then((drained) => {
      logger.info({ event: 'stopped', drained }, drained ? 'every request finished; stopped' : 'drain timeout: closed the connections still open; stopped')
      process.exit(0)
    })
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
