/**
 * HTTPS on listen.port (listen.tls): the server, its certificate swapped in place on SIGHUP (new
 * connections get the new one; open connections keep theirs), a plain-HTTP request on the port
 * refused with a 400 (never handed to the gateway), and the verified client certificate forwarded
 * to the legacy server (RFC 8705 mutual TLS behind a proxy), a client-sent header of that name
 * always removed.
 */
import { X509Certificate } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { createServer, type Server as HttpsServer, type ServerOptions } from 'node:https'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { ListenTls } from './tls-files.js'

/** TLS 1.2 and later, Node's default ciphers. */
export const LISTEN_TLS_MIN_VERSION = 'TLSv1.2'
/** How long a new connection may take to send its first byte before it is closed. */
export const FIRST_BYTE_TIMEOUT_MS = 10_000
/** The first byte of a TLS record carrying a handshake (the ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16

const PLAIN_HTTP_REFUSAL = 'this port speaks HTTPS only: use an https:// URL\n'

function serverOptions (tls: ListenTls): ServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa }),
    minVersion: LISTEN_TLS_MIN_VERSION,
    requestCert: tls.clientCertificates !== 'none',
    rejectUnauthorized: tls.clientCertificates === 'required',
  }
}

/**
 * Every new connection's first byte decides: a TLS handshake goes to the TLS server, anything else
 * (a plain HTTP request) gets a 400 and the connection is closed. Node's own TLS connection
 * listener is wrapped; the bytes read are put back before the TLS socket takes the connection over
 * (it reads what the socket holds).
 */
function refusePlainHttp (server: HttpsServer): void {
  const [tlsListener] = server.listeners('connection') as Array<(socket: Socket) => void>
  server.removeListener('connection', tlsListener!)
  server.prependListener('connection', (socket: Socket) => {
    // A connection that errs or stays silent before its first byte is simply closed.
    const drop = socket.destroy.bind(socket, undefined)
    socket.on('error', drop)
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, drop)
    socket.once('data', (first: Buffer) => {
      socket.pause()
      socket.off('error', drop)
      socket.setTimeout(0)
      if (first[0] === TLS_HANDSHAKE_RECORD) {
        socket.unshift(first)
        tlsListener!.call(server, socket)
        return
      }
      socket.on('error', drop)
      // What the client still sends is read and dropped: unread data would make the close a reset.
      socket.resume()
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${PLAIN_HTTP_REFUSAL.length}\r\nconnection: close\r\n\r\n${PLAIN_HTTP_REFUSAL}`)
    })
  })
}

export function createTlsServer (tls: ListenTls): HttpsServer {
  const server = createServer(serverOptions(tls))
  refusePlainHttp(server)
  return server
}

/**
 * Swaps in re-read certificate, key and client CAs for new connections (SIGHUP). Throws when the
 * material cannot make a secure context; the running one is then untouched.
 */
export function applyListenTls (server: HttpsServer, tls: ListenTls): void {
  const options = serverOptions(tls)
  server.setSecureContext(options)
  // Read by Node for each new connection.
  Object.assign(server, { requestCert: options.requestCert, rejectUnauthorized: options.rejectUnauthorized })
}

const FORWARDED_PEM = Symbol('jarm-gateway.client-certificate')
type CertifiedSocket = TLSSocket & { [FORWARDED_PEM]?: string }

/**
 * The verified client certificate of a connection as URL-encoded PEM (what nginx's
 * `$ssl_client_escaped_cert` holds), or undefined without one. Computed once per connection.
 */
export function escapedClientCertificate (socket: Socket): string | undefined {
  const tlsSocket = socket as CertifiedSocket
  // `authorized`: nothing presented failed verification against listen.tls.client_ca_file. It is
  // also true when no certificate was presented at all, hence the look at the certificate itself.
  if (!('encrypted' in tlsSocket) || !tlsSocket.authorized) return undefined
  if (tlsSocket[FORWARDED_PEM] === undefined) {
    const raw = tlsSocket.getPeerCertificate().raw as Buffer | undefined
    tlsSocket[FORWARDED_PEM] = raw === undefined ? '' : encodeURIComponent(new X509Certificate(raw).toString())
  }
  return tlsSocket[FORWARDED_PEM] === '' ? undefined : tlsSocket[FORWARDED_PEM]
}

/**
 * listen.tls.client_certificate_header: the client's own header of that name is removed, always;
 * the verified certificate, when there is one, takes its place.
 */
export function setClientCertificateHeader (req: IncomingMessage, tls: ListenTls | undefined): void {
  const name = tls?.clientCertificateHeader
  if (name === undefined) return
  delete req.headers[name]
  const certificate = escapedClientCertificate(req.socket)
  if (certificate !== undefined) req.headers[name] = certificate
}
