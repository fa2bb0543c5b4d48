/**
 * TLS to the legacy server: one keep-alive agent per upstream configuration, used by every request
 * to it (proxied requests, discovery, readiness; the JWKS is a proxied request), and the reading of
 * a failed connection as a TLS failure with a cause an operator can act on.
 *
 * Verification is always on. `ca_file` replaces the default store; `servername` is the name checked
 * and sent as SNI. Without it the URL's host name is used, never the request's Host header (Node's
 * default), which is the public name of the gateway, not the legacy server's.
 */
import { Agent as HttpAgent, type ClientRequest } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { isIP } from 'node:net'
import type { Socket } from 'node:net'
import type { UpstreamTls } from './tls-files.js'

/** Idle upstream sockets are closed before a typical server's own 5 s keep-alive timeout, so a reused socket is never one the server has just closed. */
export const UPSTREAM_KEEP_ALIVE_MS = 4000

/** The agent for an upstream origin: HTTPS with the configured trust, or plain HTTP. */
export function createUpstreamAgent (origin: string, tls: UpstreamTls | undefined): HttpAgent {
  const url = new URL(origin)
  const common = { keepAlive: true, timeout: UPSTREAM_KEEP_ALIVE_MS, scheduling: 'lifo' as const }
  if (url.protocol !== 'https:') return new HttpAgent(common)
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return new HttpsAgent({
    ...common,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    // '' sends no SNI and verifies the URL's IP address itself (SNI cannot carry an address).
    servername: tls?.servername ?? (isIP(hostname) === 0 ? hostname : ''),
    ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls?.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
  })
}

/** Whether a request's TLS handshake has completed (or its socket was a reused, established one). */
export interface HandshakeWatch { readonly done: boolean }

export function watchHandshake (request: ClientRequest): HandshakeWatch {
  const watch = { done: false }
  request.once('socket', (socket: Socket) => {
    if (request.reusedSocket || !('encrypted' in socket)) watch.done = true
    else socket.once('secureConnect', () => { watch.done = true })
  })
  return watch
}

const UNKNOWN_CA = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'CERT_REJECTED'])
const VALIDITY = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])
const NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'])
/** Connection-level codes that mean "never got there": not TLS failures. */
const BEFORE_TLS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENETUNREACH'])

/**
 * The cause of a TLS failure, in words with the code, or undefined when `error` is not one.
 * `handshakeDone` false (an https request whose handshake never finished) makes a reset a TLS
 * failure too: the server, or something on the way, refused the handshake.
 */
export function tlsFailureCause (error: NodeJS.ErrnoException, handshakeDone: boolean): string | undefined {
  const code = error.code ?? ''
  if (UNKNOWN_CA.has(code)) return `the legacy server's certificate is not signed by a trusted CA (${code}): check upstream.tls.ca_file`
  if (VALIDITY.has(code)) return `the legacy server's certificate is outside its validity period (${code})`
  if (NAME.has(code)) return `the legacy server's certificate does not name the host verified (${code}): set upstream.tls.servername to a name it holds (${error.message})`
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || code.startsWith('CERT_')) return `the TLS handshake with the legacy server failed (${code}: ${error.message})`
  if (!handshakeDone && !BEFORE_TLS.has(code)) return `the legacy server closed the connection during the TLS handshake (${code === '' ? error.message : code})`
  return undefined
}

/** A TLS failure of the gateway's own requests to the legacy server (discovery, readiness). */
export class UpstreamTlsError extends Error {
  readonly code = 'upstream_tls_failed'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'UpstreamTlsError'
  }
}
