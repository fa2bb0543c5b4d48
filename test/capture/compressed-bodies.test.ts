// form_post pages sent compressed (gzip, deflate with and without its zlib wrapper, br, stacked
// codings), chunked, too large, or in a coding the gateway cannot read; and the Accept-Encoding the
// legacy server is asked with. A page that may carry a sealed flow and cannot be read fails closed.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import { readForm } from '../helpers/browser-agent.js'
import { APP1, discover, judge } from '../helpers/judge.js'
import { authorizationUrl, CLIENT_STATE, startFakeStack, type UpstreamRequest } from '../helpers/fake-legacy-server.js'

const CAPTURE_LIMIT = 4096

function page (request: UpstreamRequest, padding = 0): string {
  return `<!DOCTYPE html><html><head><title>Submit</title></head><body onload="document.forms[0].submit()">
<form method="post" action="${request.params.get('redirect_uri')}">
<input type="hidden" name="code" value="compressed-code">
<input type="hidden" name="state" value="${request.params.get('state')}">
</form>
<!-- ${'x'.repeat(padding)} -->
</body></html>`
}

let answer: (request: UpstreamRequest, res: ServerResponse) => void = () => undefined
/** How discovery is sent to clients through the gateway (the gateway's own fetch asks for identity). */
let discoveryCoding: [string, (body: Buffer) => Buffer] | undefined
const stack = await startFakeStack({
  handler: (request, res) => answer(request, res),
  discovery: (json, res, req) => {
    if (discoveryCoding === undefined || req.headers['accept-encoding'] === 'identity') return false
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': discoveryCoding[0] }).end(discoveryCoding[1](Buffer.from(json)))
    return true
  },
  config: { limits: { captured_page_bytes: CAPTURE_LIMIT } },
})
t.teardown(() => stack.close())
const as = await discover(stack.gatewayUrl)

function serve (encoding: string | undefined, encode: (body: Buffer) => Buffer, padding = 0): void {
  answer = (request, res) => {
    const body = encode(Buffer.from(page(request, padding)))
    res.writeHead(200, { 'content-type': 'text/html', ...(encoding === undefined ? {} : { 'content-encoding': encoding }) })
    // Written in pieces without a length: a chunked body.
    for (let at = 0; at < body.length; at += 100) res.write(body.subarray(at, at + 100))
    res.end()
  }
}

async function run (headers: Record<string, string> = {}): Promise<Response> {
  return fetch(authorizationUrl(stack, { response_mode: 'form_post.jwt' }), { redirect: 'manual', headers })
}

const encodings: Array<[string, string | undefined, (body: Buffer) => Buffer]> = [
  ['identity, chunked', undefined, (b) => b],
  ['gzip', 'gzip', gzipSync],
  ['x-gzip', 'x-gzip', gzipSync],
  ['deflate (zlib wrapper)', 'deflate', deflateSync],
  ['deflate sent raw, without the zlib wrapper', 'deflate', deflateRawSync],
  ['br', 'br', brotliCompressSync],
  ['gzip then br, stacked', 'gzip, br', (b) => brotliCompressSync(gzipSync(b))],
  ['GZIP in capitals', 'GZIP', gzipSync],
]

for (const [name, encoding, encode] of encodings) {
  t.test(`a form_post page in ${name} is captured`, async (t) => {
    serve(encoding, encode)
    const response = await run()
    t.equal(response.status, 200)
    t.equal(response.headers.get('content-encoding'), null, 'the JARM page is sent plain')
    const form = readForm(await response.text())!
    const params = await judge(as, APP1, new URLSearchParams(form.fields), CLIENT_STATE)
    t.equal(params.get('code'), 'compressed-code')
  })
}

t.test('the limit counts bytes on the wire: a compressed page decoding to under four times it is captured', async (t) => {
  serve('gzip', gzipSync, CAPTURE_LIMIT * 2)
  const response = await run()
  t.equal(response.status, 200)
  t.equal(readForm(await response.text())!.fields[0]![0], 'response')
})

t.test('a page larger than the limit, carrying a sealed flow, fails closed', async (t) => {
  serve(undefined, (b) => b, CAPTURE_LIMIT * 2)
  const response = await run()
  t.equal(response.status, 502)
  const text = await response.text()
  t.match(text, /capture_too_large/)
  t.notMatch(text, /compressed-code/)
})

t.test('a zip bomb carrying a sealed flow fails closed without inflating it all', async (t) => {
  serve('gzip', gzipSync, CAPTURE_LIMIT * 100)
  const response = await run()
  t.equal(response.status, 502)
  t.match(await response.text(), /capture_too_large/)
})

t.test('a large page without a sealed state streams through whole, still compressed', async (t) => {
  const big = `<html><body>${'<p>lorem ipsum</p>'.repeat(2000)}</body></html>`
  const compressed = gzipSync(big)
  answer = (_request, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(compressed)
  const response = await fetch(new URL('/welcome', stack.gatewayUrl))
  t.equal(response.status, 200)
  t.equal(response.headers.get('content-encoding'), 'gzip', 'passed on as the server sent it')
  t.equal(await response.text(), big)
})

t.test('a page in a coding the gateway did not ask for fails closed', async (t) => {
  serve('zstd', (b) => b)
  const response = await run()
  t.equal(response.status, 502)
  t.match(await response.text(), /content-encoding zstd/)
})

t.test('a corrupt compressed page fails closed', async (t) => {
  serve('gzip', () => Buffer.from('this is not gzip at all'))
  const response = await run()
  t.equal(response.status, 502)
  t.match(await response.text(), /cannot be decompressed/)
  serve('deflate', () => Buffer.from('neither zlib nor raw deflate'))
  t.equal((await run()).status, 502)
})

t.test('the legacy server is asked only for codings the gateway can decode', async (t) => {
  answer = (_request, res) => res.writeHead(204).end()
  await fetch(new URL('/anything', stack.gatewayUrl), { headers: { 'accept-encoding': 'zstd, br;q=1.0, gzip;q=0.8, compress, *;q=0.1' } })
  t.equal(stack.received.at(-1)!.headers['accept-encoding'], 'br;q=1.0, gzip;q=0.8')
  await fetch(new URL('/anything', stack.gatewayUrl), { headers: { 'accept-encoding': 'zstd' } })
  t.equal(stack.received.at(-1)!.headers['accept-encoding'], 'identity')
})

for (const [name, coding] of [['gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]] as const) {
  t.test(`a discovery document in ${name} is read and republished plain`, async (t) => {
    discoveryCoding = [name, coding]
    t.teardown(() => { discoveryCoding = undefined })
    const response = await fetch(new URL('/.well-known/openid-configuration', stack.gatewayUrl), { headers: { 'accept-encoding': 'gzip, deflate, br' } })
    t.equal(response.headers.get('content-encoding'), null)
    const document = await response.json() as Record<string, unknown>
    t.ok((document['response_modes_supported'] as string[]).includes('query.jwt'))
  })
}

t.test('a discovery document that cannot be decoded passes through as sent', async (t) => {
  discoveryCoding = ['gzip', () => Buffer.from('broken')]
  t.teardown(() => { discoveryCoding = undefined })
  const response = await fetch(new URL('/.well-known/openid-configuration', stack.gatewayUrl), { headers: { 'accept-encoding': 'gzip' } })
  t.equal(response.headers.get('content-encoding'), 'gzip')
  await t.rejects(response.arrayBuffer(), 'the client sees the same broken body')
  discoveryCoding = ['zstd', (body) => body]
  const unknown = await fetch(new URL('/.well-known/openid-configuration', stack.gatewayUrl), { headers: { 'accept-encoding': 'gzip' } })
  t.equal(unknown.headers.get('content-encoding'), 'zstd', 'a coding the gateway cannot read: untouched')
  await unknown.arrayBuffer()
})
