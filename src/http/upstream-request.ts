/**
 * A small bounded GET to the legacy server for the gateway's own needs (discovery): a timeout, a size
 * limit and the public Host, since many servers build the URLs in their metadata from it.
 */
import { request as httpRequest, type Agent } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface UpstreamReply { readonly status: number, readonly contentType: string, readonly body: Buffer }

export function getFromUpstream (url: URL, options: { host?: string | undefined, forwardedProto?: string | undefined, timeoutMs: number, maxBytes: number, agent?: Agent | undefined }): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' }
    if (options.host !== undefined) headers['host'] = options.host
    if (options.forwardedProto !== undefined) headers['x-forwarded-proto'] = options.forwardedProto
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, { method: 'GET', headers, agent: options.agent, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > options.maxBytes) {
          // Reject here and stop reading: destroying with an error could raise it a second time
          // from chunks already buffered, where nothing listens any more.
          res.removeAllListeners('data')
          reject(new Error(`the answer is larger than ${options.maxBytes} bytes`))
          req.destroy()
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}
