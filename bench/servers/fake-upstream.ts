/**
 * The instant upstream: answers in microseconds so that only what sits in front of it is measured.
 *   GET /small        a small JSON answer (the passthrough request)
 *   GET /page         a small HTML page with no form (passthrough of a page the gateway inspects)
 *   GET /authorize    an authorization endpoint that never asks anyone to log in: a 303 to the
 *                     redirect_uri with a code and the state echoed, or with response_mode=form_post
 *                     a form_post page as oidc-provider writes it
 *   discovery and an empty JWKS, so the gateway knows its authorization endpoint.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serveCommands } from '../lib/child-ipc.js'

const ISSUER = 'http://127.0.0.1'
const SMALL = Buffer.from(JSON.stringify({ ok: true, service: 'fake-upstream', items: [1, 2, 3] }))
const PAGE = Buffer.from('<!DOCTYPE html><html><head><title>hello</title></head><body><p>A small page with no form.</p></body></html>')
const DISCOVERY = Buffer.from(JSON.stringify({
  issuer: ISSUER,
  authorization_endpoint: `${ISSUER}/authorize`,
  token_endpoint: `${ISSUER}/token`,
  jwks_uri: `${ISSUER}/jwks`,
  response_types_supported: ['code'],
  response_modes_supported: ['query', 'fragment', 'form_post'],
}))
const JWKS = Buffer.from('{"keys":[]}')
/** A fixed code: the gateway treats it as opaque, and the bench never redeems it. */
const CODE = 'bench-code-0123456789abcdefghijklmnopqrstuvwxyz'

function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function formPostPage (redirectUri: string, state: string | null): Buffer {
  const inputs = [['code', CODE], ...(state === null ? [] : [['state', state]])]
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value!)}"/>`).join('')
  return Buffer.from(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Submitting Callback</title><script>document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script></head><body><form method="post" action="${escapeHtml(redirectUri)}">${inputs}<noscript>Your browser does not support JavaScript or you've disabled it.<br/><button autofocus type="submit">Continue</button></noscript></form></body></html>`)
}

/** A 200 with the whole body and its length, as a fast server answers. */
function ok (res: ServerResponse, contentType: string, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': body.length, ...headers })
  res.end(body)
}

const server = createServer((req, res) => {
  const url = req.url ?? '/'
  if (url === '/small') return ok(res, 'application/json', SMALL)
  if (url === '/page') return ok(res, 'text/html; charset=utf-8', PAGE)
  if (url.startsWith('/authorize?')) {
    const query = new URLSearchParams(url.slice('/authorize?'.length))
    const redirectUri = query.get('redirect_uri') ?? 'https://client.example.org/cb'
    const state = query.get('state')
    if (query.get('response_mode') === 'form_post') {
      return ok(res, 'text/html; charset=utf-8', formPostPage(redirectUri, state), { 'cache-control': 'no-store' })
    }
    const location = `${redirectUri}${redirectUri.includes('?') ? '&' : '?'}code=${CODE}${state === null ? '' : `&state=${encodeURIComponent(state)}`}`
    res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0 })
    res.end()
    return
  }
  if (url === '/.well-known/openid-configuration') return ok(res, 'application/json', DISCOVERY)
  if (url === '/jwks') return ok(res, 'application/json', JWKS)
  res.writeHead(404, { 'content-length': 0 })
  res.end()
})

server.listen(0, '127.0.0.1', () => {
  serveCommands(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
