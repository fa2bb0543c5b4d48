/**
 * A small bounded GET to the legacy server for the gateway's own needs (discovery): a timeout, a size
 * limit and the public Host, since many servers build the URLs in their metadata from it.
 */
import { request as httpRequest, type Agent } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { tlsFailureCause, UpstreamTlsError, watchHandshake } from '../tls/upstream-tls.js'

export interface UpstreamReply { readonly status: number, readonly body: Buffer }

export function getFromUpstream (url: URL, options: { host?: string | undefined, forwardedProto?: string | undefined, timeoutMs: number, maxBytes: number, agent?: Agent | undefined }): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (error: Error): void => {
      if (settled) return
      settled = true
      reject(error)
      req.destroy()
    }
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' }
    if (options.host !== undefined) headers['host'] = options.host
    if (options.forwardedProto !== undefined) headers['x-forwarded-proto'] = options.forwardedProto
    const https = url.protocol === 'https:'
    const send = https ? httpsRequest : httpRequest
    const req = send(url, { method: 'GET', headers, agent: options.agent, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > options.maxBytes) fail(new Error(`the answer is larger than ${options.maxBytes} bytes`))
        else chunks.push(chunk)
      })
      res.on('end', () => {
        settled = true
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks) })
      })
      res.on('error', fail)
    })
    req.on('timeout', () => fail(new Error(`no answer within ${options.timeoutMs} ms`)))
    const handshake = https ? watchHandshake(req) : undefined
    req.on('error', (error: NodeJS.ErrnoException) => {
      const tls = handshake === undefined ? undefined : tlsFailureCause(error, handshake.done)
      fail(tls === undefined ? error : new UpstreamTlsError(tls, { cause: error }))
    })
    req.end()
  })
}
