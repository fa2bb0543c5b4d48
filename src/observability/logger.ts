/**
 * Structured JSON logs (pino). The gateway never hands a query string, a body, a cookie or an
 * Authorization header to the logger: paths only, so codes, tokens, state and secrets cannot leak.
 * The redaction below is the second line of defence, for a field that ever slips into a log call
 * (a header object, a parsed parameter list, an error's details).
 *
 * stdout is written asynchronously (pino.destination with sync: false): a line is written at once
 * when stdout is idle, and under load the lines that arrive while a write is in flight go out together
 * in the next one, instead of one blocking write per line (a JARM response logs three). pino flushes
 * what is pending when the process exits.
 */
import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

/** What replaces a redacted value. */
export const REDACTED = '[redacted]'

/** Fields that hold a credential or a response, wherever they appear (top level or one level down). */
const SENSITIVE_FIELDS = [
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie',
  'access_token', 'refresh_token', 'id_token', 'client_secret', 'client_assertion', 'code_verifier',
  'password', 'secret', 'secrets', 'state', 'response', 'code', 'query', 'body', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k',
]
/**
 * `code` is also the gateway's own error code field (`request.failed`); that one is named `code`
 * at the top level only and is no secret, so `code` is redacted one level down (in headers,
 * parameters, claims, errors' causes) but not at the top.
 */
const TOP_LEVEL_ALLOWED = new Set(['code'])

export const REDACT_PATHS = [
  ...SENSITIVE_FIELDS.filter((field) => !TOP_LEVEL_ALLOWED.has(field)).map((field) => `["${field}"]`),
  ...SENSITIVE_FIELDS.map((field) => `*["${field}"]`),
]

export function createLogger (options: { level?: string, destination?: DestinationStream } = {}): Logger {
  return pino({
    level: options.level ?? process.env['JARM_GATEWAY_LOG_LEVEL'] ?? 'info',
    base: { service: 'jarm-gateway' },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  }, options.destination ?? pino.destination({ dest: 1, sync: false }))
}
