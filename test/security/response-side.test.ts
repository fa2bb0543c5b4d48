// Security review, response side, with a scripted legacy server: script injection into the
// form_post.jwt page, algorithm confusion (HS256 client, RS256 default, none, kid), hostile and
// oversize answers from the legacy server.
import { createPublicKey } from 'node:crypto'
import t from 'tap'
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, type JWK } from 'jose'
import { gatewayKeySet, HS_SECRET, plainAnswer, runFlow, startFakeStack, verifyResponse } from '../helpers/fake-stack.js'
import { tagSequence, tokenize, type Tag } from '../helpers/html-tokens.js'

const stack = await startFakeStack({ config: { limits: { captured_page_bytes: 8192 } } })
t.teardown(() => stack.close())
const keys = await gatewayKeySet(stack.gatewayUrl)
const issuer = stack.gatewayUrl

/** The legacy server finishes the flow with these extra answer parameters (or a body of its own). */
function legacyAnswers (extra: Record<string, string>): void {
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    plainAnswer(res, url.searchParams, extra)
    return true
  }
}

async function authorize (parameters: Record<string, string>): Promise<Response> {
  const query = new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: 'https://client.example.org/cb', response_mode: 'form_post.jwt', ...parameters })
  return fetch(`${stack.gatewayUrl}/auth?${query}`, { redirect: 'manual' })
}

t.test('script injection into the form_post.jwt page: hostile values from either side stay inside the JWT or one escaped attribute', async (t) => {
  t.teardown(() => { stack.script = undefined })
  const hostile = '"><script>alert(1)</script><input name="response" value="forged'
  for (const upstreamMode of ['query', 'fragment', 'form_post']) {
    legacyAnswers({ error_description: hostile, session_state: '</script><script>alert(2)</script>', code: `'onmouseover='alert(3)` })
    const response = await authorize({ state: `</form>${hostile}`, response_mode: 'form_post.jwt', ...(upstreamMode === 'form_post' ? {} : {}), redirect_uri: 'https://client.example.org/cb?x="><script>alert(4)</script>' })
    t.equal(response.status, 200, upstreamMode)
    const page = await response.text()
    const tokens = tokenize(page)
    t.same(tagSequence(tokens), ['html', 'head', 'meta', 'title', '/title', 'script', '/script', '/head', 'body', 'form', 'input', 'noscript', 'p', '/p', 'button', '/button', '/noscript', '/form', '/body', '/html'])
    const input = tokens.find((token): token is Tag => token.kind === 'start' && token.name === 'input')!
    t.same(input.attributes.map(([name]) => name), ['type', 'name', 'value'])
    const form = tokens.find((token): token is Tag => token.kind === 'start' && token.name === 'form')!
    t.same(form.attributes, [['method', 'post'], ['action', 'https://client.example.org/cb?x="><script>alert(4)</script>']])
    const { payload } = await verifyResponse(input.attributes[2]![1], keys, { issuer, clientId: 'app1', algorithms: ['ES256'] })
    t.equal(payload['error_description'], hostile, 'the hostile value is data inside the signed JWT')
    t.equal(payload['state'], `</form>${hostile}`)
    t.match(response.headers.get('content-security-policy'), /default-src 'none'; script-src 'sha256-[^']+';.*form-action https:\/\/client\.example\.org/)
    t.notMatch(page, /<script>alert/)
  }
})

t.test('algorithm confusion', async (t) => {
  const jwks = await (await fetch(`${stack.gatewayUrl}/jwks`)).json() as { keys: JWK[] }
  const flows = {
    app1: await runFlow(stack.gatewayUrl, { mode: 'query.jwt', clientId: 'app1' }),
    hs: await runFlow(stack.gatewayUrl, { mode: 'query.jwt', clientId: 'hs' }),
    // Not configured: the JARM §3 default, RS256.
    unlisted: await runFlow(stack.gatewayUrl, { mode: 'query.jwt', clientId: 'unlisted' }),
  }
  const secret = new TextEncoder().encode(HS_SECRET)
  t.same(decodeProtectedHeader(flows.hs.response), { alg: 'HS256' }, 'HS256 with the client secret, no kid')
  await verifyResponse(flows.hs.response, secret, { issuer, clientId: 'hs', algorithms: ['HS256'] })
  await t.rejects(verifyResponse(flows.hs.response, keys, { issuer, clientId: 'hs', algorithms: ['HS256', 'RS256', 'ES256'] }), 'no published key verifies it')
  for (const [client, flow] of Object.entries({ app1: flows.app1, unlisted: flows.unlisted })) {
    const header = decodeProtectedHeader(flow.response)
    t.same(Object.keys(header).sort(), ['alg', 'kid'], `${client}: alg and kid only`)
    t.not(header.alg, 'none')
    const matching = jwks.keys.filter((key) => key.kid === header.kid)
    t.equal(matching.length, 1, `${client}: kid names exactly one published key`)
    t.equal(matching[0]!.alg, header.alg, `${client}: that key is for this algorithm`)
    await t.rejects(verifyResponse(flow.response, secret, { issuer, clientId: client, algorithms: ['HS256'] }), `${client}: not an HS256 token`)
  }
  t.equal(decodeProtectedHeader(flows.unlisted.response).alg, 'RS256')
  await verifyResponse(flows.unlisted.response, keys, { issuer, clientId: 'unlisted', algorithms: ['RS256'] })
  // The classic confusion: the RSA public key used as an HMAC secret. A token forged that way is not
  // accepted by a verifier that takes keys from the JWKS, and the gateway never signs with public material.
  const rsa = jwks.keys.find((key) => key.alg === 'RS256')!
  const pem = createPublicKey({ key: rsa as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }) as string
  const forged = await new SignJWT({ ...decodeJwt(flows.unlisted.response) }).setProtectedHeader({ alg: 'HS256', kid: rsa.kid! }).sign(new TextEncoder().encode(pem))
  await t.rejects(jwtVerify(forged, keys, { issuer, audience: 'unlisted' }), 'HS256 over the RSA public key is refused')
  t.not(pem.trim(), HS_SECRET)
  // alg none, and an unknown kid.
  const [, payload] = flows.app1.response.split('.')
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`
  await t.rejects(jwtVerify(none, keys, { issuer, audience: 'app1' }))
  const header = decodeProtectedHeader(flows.app1.response)
  const unknownKid = `${Buffer.from(JSON.stringify({ ...header, kid: 'not-a-published-kid' })).toString('base64url')}.${flows.app1.response.split('.').slice(1).join('.')}`
  await t.rejects(jwtVerify(unknownKid, keys, { issuer, audience: 'app1' }), { code: 'ERR_JWKS_NO_MATCHING_KEY' })
})

t.test('hostile answers from the legacy server', async (t) => {
  t.teardown(() => { stack.script = undefined })
  // A repeated response parameter is not guessed at: nothing is signed.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: `https://client.example.org/cb?code=a&code=b&state=${encodeURIComponent(url.searchParams.get('state')!)}` })
    res.end()
    return true
  }
  const duplicate = await authorize({ response_mode: 'query.jwt' })
  t.equal(duplicate.status, 502)
  t.match(await duplicate.text(), /capture_failed/)
  // RFC 9207 iss from the legacy server is replaced by the gateway's, never doubled.
  legacyAnswers({ iss: 'https://evil.example' })
  const withIss = new URL((await authorize({ response_mode: 'query.jwt' })).headers.get('location')!).searchParams.get('response')!
  t.equal(decodeJwt(withIss).iss, issuer)
  t.equal(Buffer.from(withIss.split('.')[1]!, 'base64url').toString().match(/"iss"/g)?.length, 1, 'one iss')
  // A Location header larger than Node's header limit: a defined 502.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(302, { location: `https://client.example.org/cb?code=${'x'.repeat(20_000)}&state=${encodeURIComponent(url.searchParams.get('state')!)}` })
    res.end()
    return true
  }
  const huge = await authorize({ response_mode: 'query.jwt' })
  t.equal(huge.status, 502)
  t.match(await huge.text(), /upstream_bad_response/)
  // A form_post page carrying a sealed flow, above the capture limit: fails closed.
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/auth') return false
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<form method="post" action="https://client.example.org/cb"><input type="hidden" name="state" value="${url.searchParams.get('state')!}"><input name="code" value="c"></form>${'<!-- padding -->'.repeat(1000)}`)
    return true
  }
  const big = await authorize({ response_mode: 'form_post.jwt' })
  t.equal(big.status, 502)
  const bigText = await big.text()
  t.match(bigText, /capture_too_large/)
  t.notMatch(bigText, /jg1\./, 'the sealed state is not shown')
  // A large page without a sealed flow goes through whole.
  const body = `<p>${'z'.repeat(100_000)}</p>`
  stack.script = (_req, res, url) => {
    if (url.pathname !== '/big') return false
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(body)
    return true
  }
  t.equal(await (await fetch(`${stack.gatewayUrl}/big`)).text(), body)
})
