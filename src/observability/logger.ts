/**
 * Structured JSON logs (pino). The gateway never hands a query string, a body, a cookie or an
 * Authorization header to the logger: paths only, so codes, tokens, state and secrets cannot leak.
 *
 * stdout is written asynchronously (pino.destination with sync: false): a line is written at once
 * when stdout is idle, and under load the lines that arrive while a write is in flight go out together
 * in the next one, instead of one blocking write per line (a JARM response logs three). pino flushes
 * what is pending when the process exits.
 */
import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

export function createLogger (options: { level?: string, destination?: DestinationStream } = {}): Logger {
  return pino({ level: options.level ?? process.env['JARM_GATEWAY_LOG_LEVEL'] ?? 'info', base: { service: 'jarm-gateway' } }, options.destination ?? pino.destination({ dest: 1, sync: false }))
}
