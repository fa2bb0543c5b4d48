// A legacy server that misbehaves: down, slow, reset mid-answer, not speaking HTTP. The browser gets
// a 502 or 504 page with a request id, the failure is logged once, and the gateway keeps serving.
// A client that leaves mid-flow leaves no connection behind on either side.
import t, { type Test } from 'tap'
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { authorizationUrl, connectionsOf, eventually, startFakeStack, type FakeStack } from '../helpers/fake-legacy-server.js'

/** The fake legacy server's behaviour per path. */
const behaviours: Record<string, (res: ServerResponse, req: IncomingMessage) => void> = {
  '/ok': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('fine'),
  '/slow': () => { /* never answers */ },
  '/reset-before-head': (_res, req) => req.socket.destroy(),
  '/reset-mid-page': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': '5000' })
    res.write('<html><body><form action="https://client.example.org/cb">')
    setImmediate(() => res.socket!.destroy())
  },
  '/reset-mid-download': (res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '5000' })
    res.write(Buffer.alloc(1000))
    setImmediate(() => res.socket!.destroy())
  },
  '/not-http': (_res, req) => { req.socket.end('SPEAKING GOPHER HERE\r\n\r\n') },
  '/stall-mid-download': (res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '5000' })
    res.write(Buffer.alloc(1000))
  },
  '/stall-mid-page': (res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.write('<html><body>half a page')
  },
}

/** The legacy server's side of the last request it received. */
let lastSocket: Socket | undefined

async function start (config: Record<string, unknown> = {}): Promise<FakeStack> {
  return startFakeStack({
    handler: (request, res, req) => {
      lastSocket = req.socket
      ;(behaviours[request.path] ?? ((r) => r.writeHead(404).end()))(res, req)
    },
    config,
  })
}

/** One failure: the expected status and code on a page with the request id, exactly one log line, and the gateway still serving. */
async function failsCleanly (t: Test, stack: FakeStack, path: string, status: number, code: string): Promise<void> {
  const response = await fetch(new URL(path, stack.gatewayUrl))
  t.equal(response.status, status)
  const id = response.headers.get('x-request-id')!
  t.match(id, /^[0-9a-f-]{36}$/)
  t.match(response.headers.get('content-type'), /^text\/html/)
  const page = await response.text()
  t.match(page, new RegExp(`\\(<code>${code}</code>\\)`))
  t.match(page, new RegExp(`Request id: <code>${id}</code>`))
  const failures = stack.logs.filter((line) => line['event'] === 'request.failed' && line['requestId'] === id)
  t.equal(failures.length, 1, 'logged once')
  t.equal(failures[0]!['code'], code)
  t.equal(failures[0]!['level'], 50, 'logged as an error')
  const after = await fetch(new URL('/ok', stack.gatewayUrl))
  t.equal(after.status, 200, 'the gateway keeps serving')
  t.equal(await after.text(), 'fine')
}

t.test('the legacy server is down: 502 upstream_unreachable', async (t) => {
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const stack = await startFakeStack({ handler: () => undefined, upstreamUrl: `http://127.0.0.1:${port}` })
  t.teardown(() => stack.close())
  const response = await fetch(new URL('/anything', stack.gatewayUrl))
  t.equal(response.status, 502)
  const id = response.headers.get('x-request-id')!
  t.match(await response.text(), /upstream_unreachable/)
  t.equal(stack.logs.filter((line) => line['event'] === 'request.failed' && line['requestId'] === id).length, 1)
  // An authorization request cannot go through without discovery: refused, not passed on.
  const jarm = await fetch(authorizationUrl(stack), { redirect: 'manual' })
  t.equal(jarm.status, 503)
  t.match(await jarm.text(), /metadata_unavailable/)
})

t.test('discovery fails: authorization requests are refused, everything else is still served', async (t) => {
  const stack = await startFakeStack({
    handler: (request, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`served ${request.path}`),
    discovery: (_json, res) => { res.writeHead(500).end(); return true },
  })
  t.teardown(() => stack.close())
  const other = await fetch(new URL('/static/app.js', stack.gatewayUrl))
  t.equal(other.status, 200)
  t.equal(await other.text(), 'served /static/app.js')
  const jarm = await fetch(authorizationUrl(stack), { redirect: 'manual' })
  t.equal(jarm.status, 503)
  t.match(await jarm.text(), /metadata_unavailable/)
})

t.test('faults of a running legacy server', async (t) => {
  const stack = await start({ upstream: { timeout_ms: 150 } })
  t.teardown(() => stack.close())
  await t.test('no answer within upstream.timeout_ms: 504', (t) => failsCleanly(t, stack, '/slow', 504, 'upstream_timeout'))
  await t.test('reset before the status line: 502', (t) => failsCleanly(t, stack, '/reset-before-head', 502, 'upstream_bad_response'))
  await t.test('not HTTP at all: 502', (t) => failsCleanly(t, stack, '/not-http', 502, 'upstream_bad_response'))
  await t.test('reset in the middle of a page the gateway reads: 502', (t) => failsCleanly(t, stack, '/reset-mid-page', 502, 'upstream_bad_response'))
  await t.test('a page that stalls mid-body: 502', (t) => failsCleanly(t, stack, '/stall-mid-page', 502, 'upstream_bad_response'))
  await t.test('reset in the middle of a streamed download: the client sees the answer cut, not a hang', async (t) => {
    const response = await fetch(new URL('/reset-mid-download', stack.gatewayUrl))
    t.equal(response.status, 200, 'the head was already sent')
    await t.rejects(response.arrayBuffer(), /terminated|aborted|closed/i, 'the body ends in an error')
    t.equal((await fetch(new URL('/ok', stack.gatewayUrl))).status, 200)
  })
  await t.test('a streamed download that stalls past the timeout is cut, not left hanging', async (t) => {
    // A raw client: it shows what happens on the wire (the connection is closed mid-body).
    const outcome = await new Promise<string>((resolve) => {
      get(new URL('/stall-mid-download', stack.gatewayUrl), { agent: false }, (response) => {
        t.equal(response.statusCode, 200, 'the head was already sent')
        response.resume()
        response.on('error', (error) => resolve(error.message))
        response.on('end', () => resolve('complete'))
      })
    })
    t.equal(outcome, 'aborted')
    await eventually(() => stack.logs.some((line) => line['event'] === 'request' && line['path'] === '/stall-mid-download'))
    t.match(stack.logs.filter((line) => line['path'] === '/stall-mid-download'), [{ event: 'request', status: 200, completed: false }], 'one line, marked incomplete')
    t.equal((await fetch(new URL('/ok', stack.gatewayUrl))).status, 200)
  })
})

t.test('a client that leaves mid-flow leaves no connection behind', async (t) => {
  const stack = await start({ upstream: { timeout_ms: 60_000 } })
  t.teardown(() => stack.close())
  for (const path of ['/slow', '/stall-mid-page']) {
    // A raw client without keep-alive: a browser tab closed mid-flow.
    const client = get(new URL(path, stack.gatewayUrl), { agent: false }, (response) => response.resume())
    const pending = new Promise((_resolve, reject) => client.on('error', reject))
    const seen = stack.received.length
    await eventually(() => stack.received.length > seen)
    const upstreamSide = lastSocket!
    t.equal(await connectionsOf(stack.gateway.server), 1, 'the client is connected')
    client.destroy()
    await t.rejects(pending)
    await eventually(async () => (await connectionsOf(stack.gateway.server)) === 0)
    await eventually(() => upstreamSide.destroyed)
    t.pass(`${path}: no socket left on the gateway or the legacy server`)
  }
  t.notOk(stack.logs.some((line) => line['event'] === 'request.failed'), 'a client leaving is not logged as a failure')
  t.equal(stack.logs.filter((line) => line['event'] === 'request.abandoned' && line['code'] === 'upstream_bad_response').length, 1, 'the page read it cut short is noted once')
  t.equal((await fetch(new URL('/ok', stack.gatewayUrl))).status, 200, 'and the gateway keeps serving')
})
