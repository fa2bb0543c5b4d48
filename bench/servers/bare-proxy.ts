/**
 * The baseline users would otherwise run: a bare http-proxy with a keep-alive agent and nothing else
 * (its own default passes: it streams the answer back as it comes).
 * argv[2]: the upstream origin.
 */
import { Agent, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import httpProxy from 'http-proxy'
import { serveCommands } from '../lib/child-ipc.js'

const target = process.argv[2]!
const agent = new Agent({ keepAlive: true, timeout: 4000, scheduling: 'lifo' })
const proxy = httpProxy.createProxyServer({ target, agent })
proxy.on('error', (_error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502)
  res.end()
})
const server = createServer((req, res) => proxy.web(req, res))
server.listen(0, '127.0.0.1', () => {
  serveCommands(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
