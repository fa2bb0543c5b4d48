/**
 * Structured JSON logs (pino). The gateway never hands a query string, a body, a cookie or an
 * Authorization header to the logger: paths only, so codes, tokens, state and secrets cannot leak.
 * The redaction below (redactFields) is the second line of defence, for a field that ever slips into a log call
 * (a header object, a parsed parameter list, an error's details).
 *
 * stdout is written synchronously, one write per line (pino's own default). Asynchronous writes
 * (sync: false) hand each write to libuv's thread pool: measured on the JARM path, the thread
 * wake-ups cost more CPU than the writes themselves (bench/, BENCHMARKS.md). A plain passthrough
 * request logs at debug (src/gateway.ts), so at info only JARM steps, refusals and faults write.
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

const SENSITIVE = new Set(SENSITIVE_FIELDS)

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The log object with every sensitive field censored, at the top level and one level down (the
 * reach of pino's `*.field` redaction paths). Done here rather than with pino's `redact` option,
 * whose wildcard paths cost about 25 µs on every line, a tenth of a proxied request; this walk
 * costs well under a microsecond for the gateway's flat lines. The object is copied only when a
 * field is censored.
 */
export function redactFields (object: Record<string, unknown>, top = true): Record<string, unknown> {
  let out = object
  for (const key of Object.keys(object)) {
    const value = object[key]
    const next = SENSITIVE.has(key) && !(top && TOP_LEVEL_ALLOWED.has(key))
      ? REDACTED
      : top && isPlainObject(value) ? redactFields(value, false) : value
    if (next !== value) {
      if (out === object) out = { ...object }
      out[key] = next
    }
  }
  return out
}

export function createLogger (options: { level?: string, destination?: DestinationStream } = {}): Logger {
  return pino({
    level: options.level ?? process.env['JARM_GATEWAY_LOG_LEVEL'] ?? 'info',
    base: { service: 'jarm-gateway' },
    formatters: { log: (object) => redactFields(object) },
  }, options.destination ?? pino.destination({ dest: 1, sync: true }))
}
