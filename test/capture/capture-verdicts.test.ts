// The pure capture rules, case by case: which answers are a flow's response, which fail closed, and
// which are left alone. The end-to-end files (redirect-variants, form-post-corpus) show the same
// rules through the gateway; these pin the corners a legacy server rarely reaches.
import t from 'tap'
import { captureFormPost, findSealedForms } from '../../src/capture/form-post-capture.js'
import { actionTarget, captureRedirect, findSealedRedirect, locationText, matchesRedirectUri, responseParametersOf } from '../../src/capture/redirect-capture.js'
import { FlowStateSealer, type Flow } from '../../src/flow-state/sealed-state.js'
import { decodeForInspection } from '../../src/http/decode-for-inspection.js'
import { narrowAcceptEncoding, narrowAcceptEncodingHeader } from '../../src/proxy/accept-encoding.js'
import { gzipSync } from 'node:zlib'

const sealer = new FlowStateSealer(['a-test-secret-for-sealing-flow-state-0123456789'], 600)
const REDIRECT = 'https://client.example.org/cb?tenant=t'
const sealed = sealer.seal({ mode: 'form_post.jwt', clientId: 'app1', redirectUri: REDIRECT, responseType: 'code', state: 's' })
const open = (value: string): Flow => sealer.open(value)
const BASE = 'https://id.example.com/authorize?x=1'
/** An answer on the authorization flow of a gateway at id.example.com. */
const CONTEXT = { publicOrigins: new Set(['https://id.example.com']), onFlowPath: true, extraResponseParameters: new Set<string>() }

t.test('redirects', async (t) => {
  t.equal(findSealedRedirect(`http://[broken/cb?state=${sealed}`, BASE), undefined, 'an unparseable Location is not a response')
  t.same(captureRedirect(`http://[broken/cb?state=${sealed}`, BASE, open, CONTEXT), { kind: 'not_a_response' })
  const redirect = findSealedRedirect(`https://elsewhere.example/cb?state=${sealed}`, BASE)!
  t.equal(responseParametersOf(redirect, REDIRECT), undefined, 'another endpoint yields no parameters')
  const verdict = captureRedirect(`${REDIRECT}&code=c&state=${sealed}`, BASE, open, CONTEXT)
  t.equal(verdict.kind, 'capture')
  t.same(verdict.kind === 'capture' ? verdict.parameters : [], [['code', 'c'], ['state', sealed]])
})

t.test('form actions against the redirect_uri', async (t) => {
  t.equal(actionTarget('http://[broken', BASE, REDIRECT), 'elsewhere')
  t.equal(actionTarget('https://client.example.org/cb', BASE, REDIRECT), 'endpoint', 'same endpoint, own query missing')
  t.equal(actionTarget('https://client.example.org/cb?tenant=t', BASE, REDIRECT), 'redirect_uri')
  t.equal(actionTarget('/cb?tenant=t', BASE, REDIRECT), 'elsewhere', 'relative to the gateway, not the client')
  t.equal(matchesRedirectUri('http://[broken', BASE, REDIRECT), false)
  t.equal(matchesRedirectUri('https://other.example/cb?tenant=t', BASE, REDIRECT), false)
  t.equal(matchesRedirectUri('https://client.example.org/cb?tenant=t', BASE, REDIRECT), true)
})

t.test('Location header text', async (t) => {
  t.equal(locationText('https://c.example/cb?a=1'), 'https://c.example/cb?a=1', 'ASCII as is')
  t.equal(locationText(Buffer.from('https://c.example/cb?n=東京', 'utf8').toString('latin1')), 'https://c.example/cb?n=東京', 'UTF-8 bytes read as UTF-8')
  t.equal(locationText('https://c.example/cb?n=caf\u00e9'), 'https://c.example/cb?n=caf\u00e9', 'latin1 that is not UTF-8 stays')
  t.equal(locationText('https://c.example/cb?n=\u00e9\u6771'), 'https://c.example/cb?n=\u00e9\u6771', 'already decoded text stays')
})

t.test('form_post pages', async (t) => {
  t.same(findSealedForms(`<FORM action="/x"><Input name="state" value="${sealed}"><INPUT name="code" value="a&amp;b"></FORM><form><input name="state" value="plain"></form>`), [
    { action: '/x', parameters: [['state', sealed], ['code', 'a&b']], sealedState: sealed },
  ], 'only forms carrying a sealed state, entities decoded, any tag case')
  const formWithoutAction = `<form method="post"><input type="hidden" name="state" value="${sealed}"></form>`
  t.same(captureFormPost(formWithoutAction, BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a form without action posts back to the page, not to the client')
  const strayWithActionlessForm = `<form method="get"><select name="lang"></select></form><p>${sealed}</p>`
  t.same(captureFormPost(strayWithActionlessForm, BASE, open, CONTEXT), { kind: 'not_a_response' })
  const strayThatDoesNotOpen = `<form action="${REDIRECT}"></form><p>jg1.AAAAAAAA</p>`
  t.same(captureFormPost(strayThatDoesNotOpen, BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a token that does not open is not a flow')
  const strayToClient = `<form action="https://client.example.org/cb?tenant=t"></form><script>var s = '${sealed}'</script>`
  t.equal(captureFormPost(strayToClient, BASE, open, CONTEXT).kind, 'unreadable')
  const strayNoForm = `<p>${sealed}</p>`
  t.same(captureFormPost(strayNoForm, BASE, open, CONTEXT), { kind: 'not_a_response' })
})

t.test('meta refresh and scripts', async (t) => {
  const refresh = (content: string): string => `<meta http-equiv="refresh" content="${content}"><p>${sealed}</p>`
  t.same(captureFormPost(refresh('5'), BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a refresh without a URL')
  t.same(captureFormPost(refresh('0; url='), BASE, open, CONTEXT), { kind: 'not_a_response' }, 'an empty URL')
  t.same(captureFormPost(`<meta http-equiv="refresh"><meta charset="utf-8"><p>${sealed}</p>`, BASE, open, CONTEXT), { kind: 'not_a_response' }, 'no content, or not a refresh')
  t.same(captureFormPost(refresh(`0; url=/login?state=${sealed}`), BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a refresh to a login page')
  const toClient = captureFormPost(refresh(`0,&quot;https://client.example.org/cb?tenant=t&amp;code=c&amp;state=${sealed}&quot;`), BASE, open, CONTEXT)
  t.equal(toClient.kind, 'capture', 'a comma, double quotes, no url=')
  t.equal(captureFormPost(refresh(`0; URL=https://client.example.org/cb?code=c&amp;state=${sealed}`), BASE, open, CONTEXT).kind, 'unreadable', 'a refresh to the endpoint without its own query')
  t.same(captureFormPost(`<script>analytics('${sealed}')</script>`, BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a script with the state but not the redirect_uri')
  const inFormAndScript = `<form action="/login"><input name="state" value="${sealed}"></form><script>go('https:\\/\\/client.example.org\\/cb', '${sealed}')</script>`
  t.same(captureFormPost(inFormAndScript, BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a token that is in a login form is not stray')
  const stray = `<p>${sealed}</p><script>go('https:\\/\\/client.example.org\\/cb', 'jg1.AAAA')</script>`
  t.same(captureFormPost(stray, BASE, open, CONTEXT), { kind: 'not_a_response' }, 'a script token that does not open')
  t.equal(captureFormPost(`<script>location.replace("https:\\/\\/client.example.org\\/cb#state=${sealed}")</script>`, BASE, open, CONTEXT).kind, 'unreadable', 'escaped slashes are read')
})

t.test('decoding for inspection', async (t) => {
  const text = 'x'.repeat(10_000)
  t.same(await decodeForInspection(gzipSync(text), 'gzip', 100), { kind: 'text', text: 'x'.repeat(100), truncated: true })
  t.same(await decodeForInspection(Buffer.from('plain'), undefined, 100), { kind: 'text', text: 'plain', truncated: false })
  t.same(await decodeForInspection(Buffer.from('plain'), 'identity', 100), { kind: 'text', text: 'plain', truncated: false })
  t.same(await decodeForInspection(Buffer.from('x'), 'compress', 100), { kind: 'unsupported', encoding: 'compress' })
  const cut = gzipSync(text).subarray(0, 40)
  const partial = await decodeForInspection(cut, 'gzip', 100_000)
  t.equal(partial.kind, 'text', 'a body cut at the read limit decodes as far as it goes')
})

t.test('Accept-Encoding narrowing', async (t) => {
  t.equal(narrowAcceptEncoding(undefined), 'identity')
  t.equal(narrowAcceptEncoding('gzip, deflate, br, zstd'), 'gzip, deflate, br')
  t.equal(narrowAcceptEncoding('*'), 'identity')
  t.equal(narrowAcceptEncoding('X-GZIP;q=0.5, identity'), 'X-GZIP;q=0.5, identity')
})

t.test('the header is narrowed the same way when the value was seen before, and however many values clients send', async (t) => {
  const narrowed = (value: string | undefined): string | string[] | undefined => {
    const headers: Record<string, string | undefined> = { 'accept-encoding': value }
    narrowAcceptEncodingHeader(headers)
    return headers['accept-encoding']
  }
  t.equal(narrowed(undefined), 'identity')
  t.equal(narrowed('gzip, deflate, br, zstd'), 'gzip, deflate, br')
  t.equal(narrowed('gzip, deflate, br, zstd'), 'gzip, deflate, br', 'a value seen before')
  // More distinct values than are remembered: each still narrowed, each the same as the pure function says.
  for (let i = 0; i < 200; i++) {
    const value = `gzip;q=0.${i % 10}, x-custom-${i}, br`
    if (narrowed(value) !== narrowAcceptEncoding(value)) t.fail(`value ${i} narrowed differently`)
  }
  t.equal(narrowed('zstd'), 'identity')
  t.equal(narrowed('gzip, deflate, br, zstd'), 'gzip, deflate, br', 'still right once the remembered values were let go')
})
