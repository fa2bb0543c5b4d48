// One log line per request, at its end. A plain passthrough logs at debug (the legacy server logs its
// own requests, and this line is what costs most on the passthrough path); a request that served a
// JARM flow logs at info as that flow's event; one that failed or was cut short logs at info too.
import t from 'tap'
import { request } from 'node:http'
import { authorizationUrl, CLIENT_STATE, eventually, REDIRECT_URI, startFakeStack } from '../helpers/fake-legacy-server.js'

const DEBUG = 20
const INFO = 30

const stack = await startFakeStack({
  handler: (upstream, res) => {
    if (upstream.path === '/authorize') {
      // A legacy server with a session: it answers the authorization request at once.
      const state = upstream.params.get('state')
      res.writeHead(302, { location: `${upstream.params.get('redirect_uri')!}?code=c0de&state=${encodeURIComponent(state ?? '')}` }).end()
    } else if (upstream.path === '/broken') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance')
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    }
  },
})
t.teardown(() => stack.close())

/** The status; the answer's X-Request-Id is kept in `lastId`. */
let lastId: string | undefined
function send (url: URL | string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      lastId = res.headers['x-request-id'] as string | undefined
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    }).on('error', reject).end()
  })
}

function lineFor (path: string, event: string): Record<string, unknown> | undefined {
  return stack.logs.find((line) => line['path'] === path && line['event'] === event)
}

t.test('a plain passthrough request: one line, at debug', async (t) => {
  t.equal(await send(`${stack.gatewayUrl}/static/app.json`), 200)
  await eventually(() => lineFor('/static/app.json', 'request') !== undefined)
  t.match(lineFor('/static/app.json', 'request'), { level: DEBUG, method: 'GET', status: 200, completed: true, ms: Number, requestId: lastId })
  t.match(lastId, /^[\w-]{36}$/, 'the answer carries the request id of its log line')
  t.equal(stack.logs.filter((line) => line['path'] === '/static/app.json').length, 1)
})

t.test('an answer of the legacy server that is a fault: at info', async (t) => {
  t.equal(await send(`${stack.gatewayUrl}/broken`), 503)
  await eventually(() => lineFor('/broken', 'request') !== undefined)
  t.match(lineFor('/broken', 'request'), { level: INFO, status: 503, requestId: lastId })
})

t.test('a request that starts and ends a JARM flow at once: one line at info, the flow\'s event with both steps\' fields', async (t) => {
  const before = stack.logs.length
  t.equal(await send(authorizationUrl(stack, { response_mode: 'query.jwt' })), 303)
  await eventually(() => stack.logs.slice(before).some((line) => line['event'] === 'jarm.response'))
  const lines = stack.logs.slice(before).filter((line) => line['path'] === '/authorize')
  t.equal(lines.length, 1, 'one line for the request')
  t.equal(lines[0]!['requestId'], lastId, 'the JARM response carries the request id of its log line')
  t.match(lines[0], { level: INFO, event: 'jarm.response', method: 'GET', status: 303, completed: true, clientId: String, mode: 'query.jwt', upstreamMode: 'query', alg: String, outcome: 'success' })
  const text = JSON.stringify(lines[0])
  t.notOk(text.includes(CLIENT_STATE) || text.includes('c0de') || text.includes(REDIRECT_URI), 'neither the state, the code nor the redirect_uri')
})

t.test('the discovery document the gateway rewrites carries the request id too', async (t) => {
  t.equal(await send(`${stack.gatewayUrl}/.well-known/openid-configuration`), 200)
  await eventually(() => lineFor('/.well-known/openid-configuration', 'request') !== undefined)
  t.match(lastId, /^[\w-]{36}$/)
  t.equal(lineFor('/.well-known/openid-configuration', 'request')!['requestId'], lastId)
})
