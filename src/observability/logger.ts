/**
 * Structured JSON logs (pino). The gateway never hands a query string, a body, a cookie or an
 * Authorization header to the logger: paths only, so codes, tokens, state and secrets cannot leak.
 */
import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

export function createLogger (options: { level?: string, destination?: DestinationStream } = {}): Logger {
  return pino({ level: options.level ?? process.env['JARM_GATEWAY_LOG_LEVEL'] ?? 'info', base: { service: 'jarm-gateway' } }, options.destination)
}
