/**
 * A tiny round-robin HTTP balancer for the rolling-restart test: one address in front of several
 * gateway processes, as a load balancer or a Kubernetes Service would be. Like those, it retries a
 * request on the next backend when a backend refuses the connection or drops it before answering
 * (a process that has stopped listening); it never retries once an answer has started.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Balancer {
  readonly url: string
  backends: string[]
  /** Requests retried on another backend, and how often each backend answered. */
  readonly stats: { retried: number, answeredBy: Map<string, number> }
  close (): Promise<void>
}

export async function startBalancer (): Promise<Balancer> {
  let next = 0
  const stats = { retried: 0, answeredBy: new Map<string, number>() }
  const balancer: { backends: string[] } = { backends: [] }
  const attempt = (req: IncomingMessage, res: ServerResponse, body: Buffer, tries: number, failed?: string): void => {
    // A retry goes to another backend than the one that just failed, when there is one.
    const backends = balancer.backends.length > 1 && failed !== undefined ? balancer.backends.filter((b) => b !== failed) : balancer.backends
    if (backends.length === 0 || tries > 20) { res.writeHead(503).end('no backend'); return }
    const backend = backends[next++ % backends.length]!
    const upstream = request(`${backend}${req.url ?? '/'}`, { method: req.method, headers: req.headers, agent: false }, (answer) => {
      stats.answeredBy.set(backend, (stats.answeredBy.get(backend) ?? 0) + 1)
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => {
      if (res.headersSent) { res.destroy(); return }
      stats.retried++
      setTimeout(() => attempt(req, res, body, tries + 1, backend), 5)
    })
    upstream.end(body)
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => attempt(req, res, Buffer.concat(chunks), 0))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get backends () { return balancer.backends },
    set backends (list: string[]) { balancer.backends = list },
    stats,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
