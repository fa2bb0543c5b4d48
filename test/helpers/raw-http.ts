/**
 * Raw HTTP/1.1 over a socket, for requests no well-behaved client would send (bytes fetch refuses,
 * hostile headers, bodies that lie about their length). Always bounded: the socket is closed after
 * `timeoutMs` and the result says so.
 */
import { connect } from 'node:net'

export interface RawReply {
  readonly status: number | undefined
  readonly head: string
  readonly headers: Array<[string, string]>
  readonly body: string
  /** The server closed or answered within the bound. */
  readonly answered: boolean
}

export function rawRequest (url: string, request: string | Buffer, timeoutMs = 5000): Promise<RawReply> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname)
    const chunks: Buffer[] = []
    let done = false
    const finish = (answered: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      const head = split === -1 ? text : text.slice(0, split)
      const lines = head.split('\r\n')
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]
      const headers = lines.slice(1).map((line): [string, string] => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()])
      resolve({ status: status === undefined ? undefined : Number(status), head, headers, body: split === -1 ? '' : text.slice(split + 4), answered: answered || status !== undefined })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      // One answer is enough: stop at the end of a Content-Length body...
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split))?.[1]
      if (split !== -1 && length !== undefined && Buffer.byteLength(text.slice(split + 4), 'latin1') >= Number(length)) finish(true)
      // Or at the last chunk of a chunked one.
      if (split !== -1 && /\r\ntransfer-encoding: *chunked/i.test(text.slice(0, split)) && text.endsWith('\r\n0\r\n\r\n')) finish(true)
    })
    socket.on('end', () => finish(true))
    socket.on('error', () => finish(chunks.length > 0))
    socket.on('connect', () => socket.write(request))
  })
}

/**
 * A form POST whose client leaves in the middle of its body: the head and part of the body are
 * sent, then the socket is destroyed. Resolves once it is gone (after `afterMs` more).
 */
export async function abandonFormBody (url: string, path: string, afterMs = 150): Promise<void> {
  const { hostname, port, host } = new URL(url)
  const socket = connect(Number(port), hostname)
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nresponse_type=code&`)
  await new Promise((resolve) => setTimeout(resolve, afterMs))
  socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, afterMs))
}
