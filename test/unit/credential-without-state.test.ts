// On the request that sealed a flow, an answer sending a credential to the flow's redirect_uri
// without its sealed state fails closed (src/capture/redirect-capture.ts, form-post-capture.ts).
import t from 'tap'
import { captureFormPost, maySendBrowserOn } from '../../src/capture/form-post-capture.js'
import { captureRedirect, type CaptureContext, type CaptureVerdict } from '../../src/capture/redirect-capture.js'

const RU = 'https://client.example.org/cb?tenant=1'
const BASE = 'https://gw.example/auth?x=1'
/** The capture context of an answer to the request that sealed a flow for RU. */
const SEALED_HERE: CaptureContext = { publicOrigins: new Set(['https://gw.example']), onFlowPath: true, extraResponseParameters: new Set(), sealedHere: RU }
const neverOpened = (): never => { throw new Error('no sealed state here to open') }
const credentialWithoutState = (target: string, base: string): CaptureVerdict<never> => captureRedirect(target, base, neverOpened, SEALED_HERE)
/** A page as the gateway reads it on that request: only one that may send the browser on by itself is parsed. */
const pageSendsCredentialWithoutState = (html: string, pageUrl: string): CaptureVerdict<never> => maySendBrowserOn(html) ? captureFormPost(html, pageUrl, neverOpened, SEALED_HERE) : { kind: 'not_a_response' }

t.test('a Location or Refresh URL: a credential to the redirect_uri endpoint is refused, anything else is not judged', async (t) => {
  for (const target of [`${RU}&code=c`, 'https://client.example.org/cb?code=c', 'https://CLIENT.example.org:443/cb#access_token=a', `${RU}&id_token=x&state=client`, `${RU}&refresh_token=r`]) {
    t.match(credentialWithoutState(target, BASE), { kind: 'unreadable' }, target)
  }
  for (const target of [`${RU}&error=access_denied`, 'https://client.example.org/cb2?code=c', 'https://evil.example/cb?code=c', '/login?code=c', 'http://[::1/cb?code=c', `${RU}`]) {
    t.same(credentialWithoutState(target, BASE), { kind: 'not_a_response' }, target)
  }
})

t.test('a page: forms and meta refreshes that send a credential to the redirect_uri', async (t) => {
  const refused = [
    `<form action="${RU}"><input name="code" value="c"></form>`,
    '<form action="https://client.example.org/cb"><input type="hidden" name="access_token" value="a"></form>',
    `<meta http-equiv="Refresh" content="0; url='${RU}&code=c'">`,
  ]
  for (const html of refused) t.match(pageSendsCredentialWithoutState(html, BASE), { kind: 'unreadable' }, html)
  // A form without an action posts to the page's own URL: the redirect_uri when the page is there.
  t.match(pageSendsCredentialWithoutState('<form method="post"><input name="code" value="c"></form>', 'https://client.example.org/cb'), { kind: 'unreadable' }, 'no action: the page\'s own URL')
  const passed = [
    '<p>no form at all, https://client.example.org/cb?code=c</p>',
    '<form action="http://[::1/cb"><input name="code"></form>',
    '<form><input name="code" value="c"></form>',
    `<form action="${RU}"><input name="state" value="s"><input name="error" value="e"></form>`,
    `<form action="${RU}"><input value="an input without a name is not submitted"></form>`,
    '<form action="https://client.example.org/other"><input name="code" value="c"></form>',
    `<meta http-equiv="refresh" content="0; url=${RU}&error=x"><meta name="viewport" content="width=device-width">`,
  ]
  for (const html of passed) t.same(pageSendsCredentialWithoutState(html, BASE), { kind: 'not_a_response' }, html)
})

t.test('without a flow sealed on this request, the same answers are not judged', async (t) => {
  const context: CaptureContext = { ...SEALED_HERE, sealedHere: undefined }
  t.same(captureRedirect(`${RU}&code=c`, BASE, neverOpened, context), { kind: 'not_a_response' })
  t.same(captureFormPost(`<form action="${RU}"><input name="code" value="c"></form>`, BASE, neverOpened, context), { kind: 'not_a_response' })
})
