/**
 * The baseline users would otherwise run: a bare http-proxy with a keep-alive agent and nothing else
 * (its own default passes: it streams the answer back as it comes).
 * argv[2]: the upstream origin; argv[3], argv[4]: a PEM certificate and key to serve HTTPS with.
 */
import { readFileSync } from 'node:fs'
import { Agent, createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
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
const [certFile, keyFile] = [process.argv[3], process.argv[4]]
const server = certFile === undefined || keyFile === undefined
  ? createServer((req, res) => proxy.web(req, res))
  : createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' }, (req, res) => proxy.web(req, res))
/** Connections accepted so far: section 3 reports them per flow, as it does the gateway's. */
let accepted = 0
server.on('connection', () => { accepted++ })
server.listen(0, '127.0.0.1', () => {
  serveCommands(`${certFile === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: () => ({ accepted }) })
})
