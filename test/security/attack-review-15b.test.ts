// Attack review 15b: a hostile, reflective legacy server answering the very request that sealed a
// JWT flow, trying to get a plain credential to the redirect_uri past the credential-without-state
// rule (forms, meta refreshes, Refresh headers, Locations). A passing test shows the gateway holds.
import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startFakeStack } from '../helpers/fake-stack.js'

const stack = await startFakeStack({
  config: { state: { secrets: ['a-test-secret-for-sealing-flow-state-0123456789'], ttl_seconds: 60 } },
})
t.teardown(() => stack.close())
const signed = (): number => stack.logs.filter((line) => line['event'] === 'jarm.response').length
const RU = 'https://client.example.org/cb'
t.afterEach(() => { stack.script = undefined })

type Answer = (p: URLSearchParams, req: IncomingMessage, res: ServerResponse) => void
function atOnce (answer: Answer): void {
  stack.script = (req, res, url) => {
    if (url.pathname !== '/auth') return false
    answer(url.searchParams, req, res)
    return true
  }
}
function authUrl (parameters: Record<string, string> = {}): string {
  return `${stack.gatewayUrl}/auth?${new URLSearchParams({ client_id: 'app1', response_type: 'code', redirect_uri: RU, response_mode: 'query.jwt', state: 'client-state', scope: 'openid', ...parameters })}`
}
async function authorize (parameters: Record<string, string> = {}): Promise<{ status: number, location: string, body: string, refresh: string }> {
  const response = await fetch(authUrl(parameters), { redirect: 'manual' })
  const body = await response.text()
  return { status: response.status, location: response.headers.get('location') ?? '', body, refresh: response.headers.get('refresh') ?? '' }
}
const html = (page: (state: string) => string, headers: Record<string, string> = {}): Answer => (p, _req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', ...headers }); res.end(page(p.get('state')!))
}
const redirect = (location: (state: string) => string, headers: Record<string, string> = {}): Answer => (p, _req, res) => {
  res.writeHead(302, { location: location(p.get('state')!), ...headers }); res.end()
}

const ATTACKS: Array<[string, Answer, Record<string, string>?]> = [
  ['form posting code to RU, sealed state in a different form', html((s) => `<form action="https://login.example.net/x"><input name=state value="${s}"></form><form method=post action="${RU}"><input name=code value=PLAINCODE></form>`)],
  ['form posting code to RU, sealed state only as page text', html((s) => `<p>${s}</p><form method=post action="${RU}"><input name=code value=PLAINCODE></form>`)],
  ['meta refresh with code, sealed state in a form elsewhere', html((s) => `<meta http-equiv=refresh content="0;url=${RU}?code=PLAINCODE"><form action="https://login.example.net/x"><input name=state value="${s}"></form>`)],
  ['meta refresh with code, sealed state in text', html((s) => `<meta http-equiv=refresh content="0;url=${RU}?code=PLAINCODE"><p>${s}</p>`)],
  ['base href makes a relative action the RU', html(() => '<base href="https://client.example.org/"><form method=post action="cb"><input name=code value=PLAINCODE></form>')],
  ['base href makes a relative meta refresh the RU', html(() => '<base href="https://client.example.org/x/"><meta http-equiv=refresh content="0;url=../cb?code=PLAINCODE">')],
  ['uppercase ACTION and NAME', html(() => `<FORM METHOD=POST ACTION="${RU}"><INPUT NAME=code VALUE=PLAINCODE></FORM>`)],
  ['entity-encoded name &#99;ode', html(() => `<form method=post action="${RU}"><input name="&#99;ode" value=PLAINCODE></form>`)],
  ['entity-encoded action', html(() => `<form method=post action="${[...RU].map((c) => `&#x${c.charCodeAt(0).toString(16)};`).join('')}"><input name=code value=PLAINCODE></form>`)],
  ['button formaction to RU on a form going elsewhere', html(() => `<form method=post action="https://elsewhere.example.net/x"><input name=code value=PLAINCODE><button formaction="${RU}">go</button></form><script>document.forms[0].querySelector('button').click()</script>`)],
  ['input type=submit formaction to RU', html(() => `<form method=post action="https://elsewhere.example.net/x"><input name=code value=PLAINCODE><input type=submit formaction="${RU}"></form>`)],
  ['input outside the form with form="id"', html(() => `<form id=f method=post action="${RU}"></form><input form=f name=code value=PLAINCODE><script>document.getElementById('f').submit()</script>`)],
  ['textarea name=code', html(() => `<form method=post action="${RU}"><textarea name=code>PLAINCODE</textarea></form>`)],
  ['select name=code', html(() => `<form method=post action="${RU}"><select name=code><option selected>PLAINCODE</option></select></form>`)],
  ['button name=code value', html(() => `<form method=post action="${RU}"><button name=code value=PLAINCODE>go</button></form>`)],
  ['Location with c%6Fde=', redirect(() => `${RU}?c%6Fde=PLAINCODE`)],
  ['Location with the code in the fragment', redirect(() => `${RU}#code=PLAINCODE`)],
  ['Location with an uppercase host and default port', redirect(() => 'https://CLIENT.example.org:443/cb?code=PLAINCODE')],
  ['Location dropping the RU own query', redirect(() => 'https://client.example.org/cb?code=PLAINCODE'), { redirect_uri: `${RU}?x=1` }],
  ['Location keeping the RU own query', redirect(() => `${RU}?x=1&code=PLAINCODE`), { redirect_uri: `${RU}?x=1` }],
  ['Refresh header with code beside a harmless Location', redirect(() => 'https://login.example.net/x', { refresh: `0;url=${RU}?code=PLAINCODE` })],
  ['200 with both a harmless Refresh header and a form posting the code', html(() => `<form method=post action="${RU}"><input name=code value=PLAINCODE></form>`, { refresh: '5;url=https://login.example.net/x' })],
  ['200 with both a Refresh header to RU with code and a harmless page', html((s) => `<p>${s}</p>`, { refresh: `0;url=${RU}?code=PLAINCODE` })],
  ['form posting code to RU, application/xhtml+xml', html(() => `<html xmlns="http://www.w3.org/1999/xhtml"><body><form method="post" action="${RU}"><input name="code" value="PLAINCODE"/></form></body></html>`, { 'content-type': 'application/xhtml+xml' })],
  ['form in a table (foster parenting)', html(() => `<table><form method=post action="${RU}"><tr><td><input name=code value=PLAINCODE></td></tr></form></table>`)],
]

for (const [what, answer, parameters] of ATTACKS) {
  t.test(what, async (t) => {
    atOnce(answer)
    const before = signed()
    const r = await authorize(parameters)
    t.comment(`status ${r.status}`)
    t.notOk(r.location.includes('PLAINCODE'), `${what}: the plain code is not in the Location`)
    t.notOk(r.body.includes('PLAINCODE'), `${what}: the plain code is not in the page`)
    t.notOk(r.refresh.includes('PLAINCODE'), `${what}: the plain code is not in a Refresh header`)
    t.equal(signed(), before, `${what}: nothing signed`)
  })
}

t.test('later request (after a login page): documented as not judged', async (t) => {
  stack.script = (_req, res, url) => {
    if (url.pathname === '/auth') { res.writeHead(302, { location: `${stack.gatewayUrl}/login` }); res.end(); return true }
    if (url.pathname === '/login') { res.writeHead(302, { location: `${RU}?code=PLAINCODE` }); res.end(); return true }
    return false
  }
  const first = await fetch(authUrl(), { redirect: 'manual' })
  await first.text()
  const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]!).join('; ')
  const second = await fetch(`${stack.gatewayUrl}/login`, { redirect: 'manual', headers: { cookie } })
  await second.text()
  t.comment(`later request: status ${second.status}, location ${second.headers.get('location')}`)
  t.pass('documented limitation (SECURITY.md, issue 15)')
})
