// The pure pieces of the adversarial review's fixes: how a page's bytes are read as text, Refresh
// values, a page's base URL, and which request targets are refused.
import t from 'tap'
import { captureFormPost, refreshUrl } from '../../src/capture/form-post-capture.js'
import { FlowStateSealer, type Flow } from '../../src/flow-state/sealed-state.js'
import { decodeForInspection, pageText } from '../../src/http/decode-for-inspection.js'
import { readRequestTarget } from '../../src/http/request-target.js'

t.test('a page\'s text as a browser reads it', async (t) => {
  const text = 'state=jg1.x'
  t.equal(pageText(Buffer.from(text), 'text/html'), text)
  t.equal(pageText(Buffer.from(text), undefined), text)
  t.equal(pageText(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]), 'text/html'), text, 'UTF-16BE by its byte order mark')
  t.equal(pageText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), 'text/html'), text, 'UTF-16LE by its byte order mark')
  t.equal(pageText(Buffer.from(text, 'utf16le'), 'text/html; charset=utf-16'), text, 'the utf-16 label is UTF-16LE')
  t.equal(pageText(Buffer.from(text, 'utf16le'), 'text/html; charset="UTF-16LE"'), text)
  t.equal(pageText(Buffer.from(text, 'utf16le').swap16(), 'text/html;charset=utf-16be'), text)
  t.equal(pageText(Buffer.from(text), 'text/html; charset=iso-8859-1'), text, 'ASCII-compatible encodings are read as they are')
  const decoded = await decodeForInspection(Buffer.from(text, 'utf16le'), undefined, 1000, 'text/html; charset=utf-16')
  t.same(decoded, { kind: 'text', text, truncated: false })
})

t.test('Refresh values', async (t) => {
  t.equal(refreshUrl('0; url=https://c.example/cb'), 'https://c.example/cb')
  t.equal(refreshUrl("5;URL='https://c.example/cb'"), 'https://c.example/cb')
  t.equal(refreshUrl('0'), undefined, 'a reload of the page itself')
  t.equal(refreshUrl('0; url='), undefined)
})

t.test('a page\'s base URL', async (t) => {
  const sealer = new FlowStateSealer(['a-test-secret-for-sealing-flow-state-0123456789'], 600)
  const flow: Flow = { mode: 'form_post.jwt', clientId: 'app1', redirectUri: 'https://c.example/app/cb', responseType: 'code', state: 's' }
  const sealed = sealer.seal(flow)
  const context = { publicOrigins: new Set(['https://id.example']), onFlowPath: true, extraResponseParameters: new Set<string>() }
  const form = `<form method="post" action="cb"><input name="code" value="c"><input name="state" value="${sealed}"></form>`
  t.match(captureFormPost(`<base href="https://c.example/app/">${form}`, 'https://id.example/login', (s) => sealer.open(s), context), { kind: 'capture' }, 'a relative action resolves against <base href>')
  t.same(captureFormPost(`<base href="http://[bad">${form}`, 'https://id.example/login', (s) => sealer.open(s), context), { kind: 'not_a_response' }, 'an unparseable base is ignored: the page\'s own URL')
  t.same(captureFormPost(`<base target="_top">${form}`, 'https://id.example/login', (s) => sealer.open(s), context), { kind: 'not_a_response' }, 'a base without href changes nothing')
})

t.test('request targets refused', async (t) => {
  t.match(readRequestTarget('GET', '//evil.example/authorize', ['Host', 'gw']), { code: 'invalid_request_target', message: /must not begin with \/\// })
  t.match(readRequestTarget('GET', 'http://gw//authorize', ['Host', 'gw']), { code: 'invalid_request_target' }, 'absolute-form too')
  t.match(readRequestTarget('GET', '/authorize', ['Host', 'gw']), { path: '/authorize' })
})
