// Upstream and client faults, each injected many times: refused, slow (timeout), reset mid-body,
// truncated chunked body, huge headers, a slowloris client. Each ends in a defined answer, the
// gateway keeps serving, and no socket is left behind on either side. FAULT_REPEAT for more.
import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { runFlow, startFakeStack } from '../helpers/fake-stack.js'
import { pool } from '../helpers/pool.js'

const REPEAT = Number(process.env['FAULT_REPEAT'] ?? 20)
// A generous upstream timeout for every fault but the slow one, which has a stack of its own: on a
// busy machine a short one would turn ordinary answers into 504s.
const stack = await startFakeStack({ config: { upstream: { timeout_ms: 20_000 }, limits: { captured_page_bytes: 4096 } } })
t.teardown(() => stack.close())
let injected = 0

const connections = (): Promise<number> => new Promise((resolve, reject) => stack.gateway.server.getConnections((error, count) => error ? reject(error) : resolve(count)))
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100))

/** The legacy server misbehaves on /auth (so a sealed flow is in play) with `fault`. */
function fault (fault: (state: string, res: import('node:http').ServerResponse) => void): void {
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    fault(url.searchParams.get('state') ?? '', res)
    return true
  }
}

async function authorize (gatewayUrl = stack.gatewayUrl): Promise<{ status: number | undefined, text: string, error?: string }> {
  const query = new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example.org/cb', response_mode: 'form_post.jwt', state: 's' })
  try {
    const response = await fetch(`${gatewayUrl}/auth?${query}`, { redirect: 'manual', headers: { connection: 'close' } })
    return { status: response.status, text: await response.text() }
  } catch (error) {
    return { status: undefined, text: '', error: String((error as Error).cause ?? error) }
  }
}

async function inject (t: Test, name: string, expect: (outcome: { status: number | undefined, text: string }) => boolean): Promise<void> {
  const outcomes = await pool(REPEAT, 5, () => authorize())
  injected += REPEAT
  const unexpected = outcomes.filter((o) => !o.ok || !expect(o.value))
  t.equal(unexpected.length, 0, `${name}: ${REPEAT} times, each a defined answer (${JSON.stringify(outcomes[0]?.ok === true ? { status: outcomes[0].value.status, error: outcomes[0].value.error } : {})})`)
  stack.script = undefined
  await settle()
  t.equal(await connections(), 0, `${name}: no client connection left open`)
  // The gateway still completes a normal flow afterwards.
  await runFlow(stack.gatewayUrl, { mode: 'query.jwt', state: 'after' })
}

t.test('slow legacy server: 504 after upstream.timeout_ms, its socket closed', async (t) => {
  const slow = await startFakeStack({ config: { upstream: { timeout_ms: 300 } } })
  t.teardown(() => slow.close())
  const hanging: import('node:http').ServerResponse[] = []
  slow.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    hanging.push(res)
    return true
  }
  const outcomes = await pool(REPEAT, 5, () => authorize(slow.gatewayUrl))
  injected += REPEAT
  t.ok(outcomes.every((o) => o.ok && o.value.status === 504 && /upstream_timeout/.test(o.value.text)), `slow: ${REPEAT} times, each a 504 upstream_timeout`)
  await settle()
  t.equal(hanging.length, REPEAT)
  t.ok(hanging.every((res) => res.destroyed || res.socket === null || res.socket.destroyed), 'the gateway gave up its upstream sockets')
})

t.test('reset mid-body of a page carrying a sealed flow: 502, never a partial capture', async (t) => {
  fault((state, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': '5000' })
    res.write(`<form method="post" action="https://client.example.org/cb"><input name="state" value="${state}">`)
    setImmediate(() => res.socket?.destroy())
  })
  await inject(t, 'reset', (o) => o.status === 502 && /upstream_bad_response/.test(o.text))
})

t.test('truncated chunked body: 502', async (t) => {
  fault((state, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'transfer-encoding': 'chunked' })
    res.write(`<form method="post" action="https://client.example.org/cb"><input name="state" value="${state}"><input name="code" value="c">`)
    setImmediate(() => res.socket?.destroy())
  })
  await inject(t, 'truncated chunked', (o) => o.status === 502)
})

t.test('reset mid-body of a page the gateway only streams: the client connection ends too (no hang)', async (t) => {
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/page') return false
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' })
    res.write(Buffer.alloc(1000))
    setImmediate(() => res.socket?.destroy())
    return true
  }
  const outcomes = await pool(REPEAT, 5, async () => {
    try {
      const response = await fetch(`${stack.gatewayUrl}/page`, { headers: { connection: 'close' } })
      // Reset before the gateway began its answer: a complete 502; after: the body ends early.
      if (response.status === 502) return 'bad gateway'
      return await response.arrayBuffer().then((body) => `complete ${body.byteLength}`, (error: Error) => `ended: ${error.name}`)
    } catch (error) {
      return `ended: ${(error as Error).name}`
    }
  })
  injected += REPEAT
  t.ok(outcomes.every((o) => o.ok && (o.value.startsWith('ended') || o.value === 'bad gateway')), `every client saw the body end early or a 502, none hung and none took a short body for a whole one (${JSON.stringify(outcomes.map((o) => o.ok ? o.value : 'error').slice(0, 3))})`)
  stack.script = undefined
  await settle()
  t.equal(await connections(), 0)
})

t.test('huge response headers: 502', async (t) => {
  fault((state, res) => {
    res.writeHead(302, { location: `https://client.example.org/cb?state=${state}`, 'x-padding': 'p'.repeat(40_000) })
    res.end()
  })
  await inject(t, 'huge headers', (o) => o.status === 502)
})

t.test('refused: the legacy server is down, 502 upstream_unreachable; back up, served again', async (t) => {
  const { createServer } = await import('node:net')
  // A port that refuses: bound and closed again.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as { port: number }).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const { buildConfig } = await import('../../src/config/load-config.js')
  const { createLogger } = await import('../../src/observability/logger.js')
  const { listen, serve } = await import('../../src/server.js')
  const { TEST_KEYS, STATE_SECRET } = await import('../helpers/stack.js')
  const config = await buildConfig({ upstream: { url: `http://127.0.0.1:${port}`, timeout_ms: 300, authorization_endpoint: '/auth' }, issuer: 'http://127.0.0.1:1', keys: TEST_KEYS, state: { secrets: [STATE_SECRET] } }, process.cwd())
  const gateway = serve(await listen('127.0.0.1', 0), config, createLogger({ level: 'silent' }))
  t.teardown(() => gateway.close())
  const outcomes = await pool(REPEAT, 5, async () => {
    const response = await fetch(`${gateway.url}/anything`, { headers: { connection: 'close' } })
    return { status: response.status, text: await response.text() }
  })
  injected += REPEAT
  // Without discovery the gateway cannot know the authorization endpoint: plain requests pass (and
  // are refused upstream: 502), and one that may ask for a JWT mode is refused before it leaves (503).
  t.ok(outcomes.every((o) => o.ok && o.value.status === 502 && /upstream_unreachable/.test(o.value.text)), 'each a 502 upstream_unreachable')
  const jarm = await fetch(`${gateway.url}/auth?response_mode=query.jwt`)
  t.equal(jarm.status, 503)
  t.match(await jarm.text(), /metadata_unavailable/)
})

t.test('slowloris clients: held connections do not stop others being served, and are let go when they leave', async (t) => {
  const slow: Socket[] = []
  for (let i = 0; i < 50; i++) {
    const socket = connect(Number(new URL(stack.gatewayUrl).port), '127.0.0.1')
    socket.on('error', () => {})
    socket.write('GET /auth?client_id=app1 HTTP/1.1\r\nHost: x\r\n')
    slow.push(socket)
  }
  injected += slow.length
  // One more header line every little while, never the end of the head.
  const drip = setInterval(() => { for (const socket of slow) socket.write(`x-drip: ${Date.now()}\r\n`) }, 50)
  for (let wait = 0; wait < 100 && await connections() < 50; wait++) await settle()
  t.ok(await connections() >= 50, 'the slow connections are open')
  const flows = await pool(40, 10, (i) => runFlow(stack.gatewayUrl, { mode: 'query.jwt', state: `beside-slowloris-${i}` }))
  const failedFlows = flows.filter((f) => !f.ok) as Array<{ ok: false, error: Error }>
  t.equal(failedFlows.length, 0, `flows beside them all complete (${failedFlows.slice(0, 2).map((f) => `${f.error.message} ${String((f.error.cause as Error | undefined)?.message)}`).join('; ')})`)
  clearInterval(drip)
  const held = await connections()
  for (const socket of slow) socket.destroy()
  await settle()
  // (The flows' own keep-alive connections may still be open; the 50 slow ones must all be gone.)
  t.ok(await connections() <= held - 50, 'all 50 let go once they leave')
})

t.test('figures', async (t) => {
  await settle()
  t.ok(stack.upstreamSockets() <= 20, `upstream sockets open after every fault: ${stack.upstreamSockets()} (a keep-alive pool, not a leak)`)
  t.comment(`${injected} faults injected`)
})
