// form_post pages as real legacy servers write them (fixtures in test/fixtures/form-post/, written in
// the styles of oidc-provider, Keycloak, WSO2, Spring, Janssen and older servers), served by a fake
// legacy server with the sealed state the gateway made filled in. Each captured response is judged
// by oauth4webapi; pages that carry a flow but cannot be read fail closed.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { decodeJwt } from 'jose'
import { readForm } from '../helpers/browser-agent.js'
import { APP1, discover, judge, oauth } from '../helpers/judge.js'
import { authorizationUrl, CLIENT_STATE, fillTemplate, startFakeStack, type UpstreamRequest } from '../helpers/fake-legacy-server.js'

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/form-post/${name}`, import.meta.url), 'utf8')

interface Served { file: string, status?: number, contentType?: string | null, chunked?: boolean, values?: Record<string, string> }
let serving: Served = { file: 'oidc-provider.html' }
/** Every page's values: the sealed state and redirect_uri the gateway sent, and awkward text. */
const SPECIAL_CODE = 'Splx lO&B<"\'é>+%'
function values (request: UpstreamRequest, issuer: string): Record<string, string> {
  return {
    action: request.params.get('redirect_uri')!,
    state: request.params.get('state')!,
    code: SPECIAL_CODE,
    issuer,
    session_state: 'b2c7a1.e&f',
    scope: 'openid profile',
    note: 'Grüße & <東京> "quoted"',
    note_url: encodeURIComponent('Grüße & <東京> "quoted"'),
    action_json: JSON.stringify(request.params.get('redirect_uri')!).slice(1, -1).replace(/\//g, '\\/'),
    ...serving.values,
  }
}

const stack = await startFakeStack({
  handler: (request, res: ServerResponse) => {
    const page = fillTemplate(fixture(serving.file), values(request, stack.gatewayUrl))
    const headers: Record<string, string> = {}
    if (serving.contentType !== null) headers['content-type'] = serving.contentType ?? 'text/html; charset=utf-8'
    if (serving.chunked === true) {
      res.writeHead(serving.status ?? 200, headers)
      const bytes = Buffer.from(page)
      for (let at = 0; at < bytes.length; at += 7) res.write(bytes.subarray(at, at + 7))
      res.end()
      return
    }
    res.writeHead(serving.status ?? 200, { ...headers, 'content-length': String(Buffer.byteLength(page)) }).end(page)
  },
  // The extra inputs some pages hold are carried only because the operator lists them.
  // (unquoted-legacy.html is an old server that sends expires_in beside a code.)
  config: { extra_response_parameters: ['debug_note', 'nameless-type', 'note', 'expires_in'] },
})
t.teardown(() => stack.close())
const as = await discover(stack.gatewayUrl)

async function flow (served: Served, parameters: Record<string, string> = {}): Promise<Response> {
  serving = served
  return fetch(authorizationUrl(stack, { response_mode: 'form_post.jwt', ...parameters }), { redirect: 'manual' })
}

/** The JARM form_post page, read with an independent parser and judged; the claims for exact checks. */
async function capturedClaims (t: Test, response: Response): Promise<Record<string, unknown>> {
  t.equal(response.status, 200, 'the JARM page answers 200, whatever the legacy status')
  t.match(response.headers.get('content-type'), /^text\/html/)
  const form = readForm(await response.text())!
  t.equal(form.action, 'https://client.example.org/cb')
  t.same(form.fields.map(([name]) => name), ['response'])
  const parameters = new URLSearchParams(form.fields)
  try {
    await judge(as, APP1, parameters, CLIENT_STATE)
  } catch (error) {
    // An error response is still a valid JARM response: oauth4webapi verified it before refusing it.
    if (!(error instanceof oauth.AuthorizationResponseError)) throw error
  }
  return decodeJwt(parameters.get('response')!)
}

const cases: Array<{ name: string, served: Served, expect: Record<string, unknown> }> = [
  { name: 'oidc-provider (no Content-Type at all)', served: { file: 'oidc-provider.html', contentType: null }, expect: { code: SPECIAL_CODE } },
  { name: 'Keycloak (upper-case tags and attributes, a submit input)', served: { file: 'keycloak.html', contentType: 'text/html;charset=UTF-8' }, expect: { code: SPECIAL_CODE, session_state: 'b2c7a1.e&f' } },
  { name: 'WSO2 (one line, unclosed inputs, labelled `text/plain, text/html`: a browser takes the last type)', served: { file: 'wso2.html', contentType: 'text/plain, text/html' }, expect: { code: SPECIAL_CODE, session_state: 'b2c7a1.e&f' } },
  { name: 'Spring-style XHTML (prolog, single quotes, hex action, decimal value)', served: { file: 'spring-xhtml.html', contentType: 'application/xhtml+xml; charset=UTF-8' }, expect: { code: SPECIAL_CODE } },
  { name: 'Janssen (inputs without a type, value before name, chunked)', served: { file: 'janssen.html', chunked: true }, expect: { code: SPECIAL_CODE, scope: 'openid profile', session_state: 'b2c7a1.e&f' } },
  { name: 'an old server (unquoted attributes, mixed case, image/reset/button inputs)', served: { file: 'unquoted-legacy.html', values: { code: 'UnquotedCode-1' } }, expect: { code: 'UnquotedCode-1', expires_in: 3600 } },
  { name: 'several forms, extra inputs, a button, markup inside a script', served: { file: 'several-forms.html' }, expect: { code: SPECIAL_CODE, debug_note: 'Grüße & <東京> "quoted"', 'nameless-type': 'kept' } },
  { name: 'named, decimal and hex entities in values and the action', served: { file: 'entities.html' }, expect: { code: 'a&b<c>d"e\'fééé\u00a0g', error_description: 'Grüße & <東京> "quoted"' } },
  { name: 'an error page with status 400', served: { file: 'error-400.html', status: 400 }, expect: { error: 'access_denied', error_description: 'End-User aborted interaction' } },
  { name: 'XML labelled text/xml', served: { file: 'spring-xhtml.html', contentType: 'text/xml' }, expect: { code: SPECIAL_CODE } },
  { name: 'XHTML labelled image/svg+xml (any +xml type loads as an XML document)', served: { file: 'spring-xhtml.html', contentType: 'image/svg+xml' }, expect: { code: SPECIAL_CODE } },
  { name: 'a type a browser sniffs (unknown/unknown)', served: { file: 'oidc-provider.html', contentType: 'unknown/unknown' }, expect: { code: SPECIAL_CODE } },
]

for (const { name, served, expect } of cases) {
  t.test(`captured: ${name}`, async (t) => {
    const claims = await capturedClaims(t, await flow(served))
    t.equal(claims['state'], CLIENT_STATE, 'the client state, byte for byte')
    t.equal(claims['iss'], stack.gatewayUrl, 'one iss, the gateway issuer')
    t.equal(claims['aud'], 'app1')
    t.match(claims, expect)
    for (const unsent of ['submit_button', 'continue', 'go', 'b', 'helper', 'lang', 'csrf']) t.notOk(unsent in claims, `${unsent} is not a response parameter`)
  })
}

t.test('a form_post page is delivered in the mode the client asked for (query.jwt)', async (t) => {
  const response = await flow({ file: 'keycloak.html' }, { response_mode: 'query.jwt' })
  t.equal(response.status, 303)
  const params = await judge(as, APP1, new URL(response.headers.get('location')!).searchParams, CLIENT_STATE)
  t.equal(params.get('code'), SPECIAL_CODE)
})

t.test('a page labelled text/plain is text to a browser, never a form: streamed untouched', async (t) => {
  const response = await flow({ file: 'wso2.html', contentType: 'text/plain' })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain/)
  t.match(await response.text(), /<form/, 'the page itself, not a JARM response')
})

t.test('a login page that carries the sealed state in its own form and text passes through', async (t) => {
  const response = await flow({ file: 'login-page-echoing-state.html' })
  t.equal(response.status, 200)
  const text = await response.text()
  t.match(text, /<h1>Sign in/)
  t.match(text, /action="\/login"/)
})

t.test('a form posting a sealed flow\'s code elsewhere fails closed: a plain code must not travel', async (t) => {
  const response = await flow({ file: 'oidc-provider.html', values: { action: 'https://elsewhere.example/cb' } })
  t.equal(response.status, 502)
  const text = await response.text()
  t.match(text, /capture_failed/)
  t.notMatch(text, /elsewhere\.example/)
})

t.test('a form posting the sealed state elsewhere without a credential passes through (not this flow\'s response)', async (t) => {
  const response = await flow({ file: 'error-400.html', values: { action: 'https://elsewhere.example/cb' } })
  t.equal(response.status, 200)
  t.match(await response.text(), /action="https:\/\/elsewhere.example\/cb"/)
})

t.test('fails closed: a form to the redirect_uri without its own query', async (t) => {
  const response = await flow({ file: 'oidc-provider.html', values: { action: 'https://client.example.org/cb' } }, { redirect_uri: 'https://client.example.org/cb?tenant=t' })
  t.equal(response.status, 502)
  const page = await response.text()
  t.match(page, /capture_failed/)
  t.notMatch(page, /Splx/)
})

t.test('fails closed: a page that builds its form_post inputs in a script', async (t) => {
  const response = await flow({ file: 'script-built.html' })
  t.equal(response.status, 502)
  const page = await response.text()
  t.match(page, /capture_failed/)
  t.match(page, /Request id: <code>[0-9a-f-]{36}<\/code>/)
  t.notMatch(page, /jg1\./, 'never the sealed state')
})

t.test('a meta refresh to the redirect_uri is captured like a Location', async (t) => {
  const claims = await capturedClaims(t, await flow({ file: 'meta-refresh.html' }))
  t.equal(claims['code'], 'meta-refresh-code')
  t.equal(claims['note'], 'Grüße & <東京> "quoted"')
  t.equal(claims['state'], CLIENT_STATE)
})

t.test('fails closed: a script that sends the browser to the redirect_uri with the sealed state', async (t) => {
  const response = await flow({ file: 'script-location.html', values: { code: 'script-code' } })
  t.equal(response.status, 502)
  const page = await response.text()
  t.match(page, /a script on the page sends the sealed state to the redirect_uri/)
  t.notMatch(page, /script-code/)
})

t.test('a page with a form tag without action and a stray sealed state passes through', async (t) => {
  serving = { file: 'script-built.html', values: { action: '' } }
  // The action is empty: the form posts back to the page itself, not to the client.
  const response = await flow({ file: 'script-built.html', values: { action: '' } })
  t.equal(response.status, 200)
})
