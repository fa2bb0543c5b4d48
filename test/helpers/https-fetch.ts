/**
 * A fetch over node:https that trusts a test CA (and may present a client certificate), for
 * clients that take a fetch function: oauth4webapi's customFetch, the scripted browser. Node's
 * global fetch cannot be given a CA without a dispatcher from a separately installed undici.
 */
import { Agent, request } from 'node:https'
import type { TLSSocket } from 'node:tls'

export interface HttpsFetchOptions { readonly ca: string, readonly cert?: string, readonly key?: string }

export type FetchLike = (input: string | URL, init?: { method?: string, headers?: Record<string, string> | Headers, body?: string | URLSearchParams | null, redirect?: string, signal?: AbortSignal | null }) => Promise<Response>

export interface HttpsFetch extends FetchLike {
  readonly agent: Agent
  /** SHA-256 fingerprints of the server certificates seen, one per new connection. */
  readonly certificates: string[]
}

export function httpsFetch (options: HttpsFetchOptions): HttpsFetch {
  const agent = new Agent({ keepAlive: true, ca: options.ca, cert: options.cert, key: options.key })
  const certificates: string[] = []
  const fetchLike: FetchLike = (input, init = {}) => new Promise<Response>((resolve, reject) => {
    const headers: Record<string, string> = init.headers instanceof Headers ? Object.fromEntries(init.headers) : { ...init.headers }
    const body = init.body === undefined || init.body === null ? undefined : String(init.body)
    if (init.body instanceof URLSearchParams) headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8'
    const method = init.method ?? 'GET'
    const req = request(new URL(input), { method, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const responseHeaders = new Headers()
        for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!)
        const empty = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304
        resolve(new Response(empty ? null : Buffer.concat(chunks), { status: res.statusCode!, headers: responseHeaders }))
      })
      res.on('error', reject)
    })
    req.on('socket', (socket) => {
      if (!req.reusedSocket) socket.once('secureConnect', () => certificates.push((socket as TLSSocket).getPeerCertificate().fingerprint256))
    })
    req.on('error', reject)
    req.end(body)
  })
  return Object.assign(fetchLike, { agent, certificates })
}
