/**
 * Carrying a finished response JWT to the client (JARM §2.3): a redirect with `response` in the query
 * or the fragment, or an auto-submitting form_post page. Knows nothing of JOSE: it is handed a
 * string, as oidc-provider's response_modes hand a token to the plain renderers.
 */
import { createHash } from 'node:crypto'
import type { ConcreteJarmMode } from '../authorization-request/response-mode.js'
import { escapeHtml } from './html-escape.js'

export interface Delivery {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const SUBMIT_SCRIPT = "document.addEventListener('DOMContentLoaded',function(){document.forms[0].submit()})"
/** The page's one script, allowed by hash so the page works under a strict CSP. */
const SUBMIT_SCRIPT_HASH = `'sha256-${createHash('sha256').update(SUBMIT_SCRIPT).digest('base64')}'`

/** Redirect URIs carry no fragment (RFC 6749 §3.1.2); their own query is kept byte for byte. */
function withoutFragment (redirectUri: string): string {
  const hash = redirectUri.indexOf('#')
  return hash === -1 ? redirectUri : redirectUri.slice(0, hash)
}

export function redirectLocation (mode: 'query.jwt' | 'fragment.jwt', redirectUri: string, jwt: string): string {
  const base = withoutFragment(redirectUri)
  if (mode === 'fragment.jwt') return `${base}#response=${jwt}`
  return `${base}${base.includes('?') ? '&' : '?'}response=${jwt}`
}

export function formPostPage (redirectUri: string, jwt: string): Delivery {
  const action = withoutFragment(redirectUri)
  const target = new URL(action)
  const formAction = target.protocol === 'https:' || target.protocol === 'http:' ? `; form-action ${target.origin}` : ''
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'content-security-policy': `default-src 'none'; script-src ${SUBMIT_SCRIPT_HASH}; base-uri 'none'; frame-ancestors 'none'${formAction}`,
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
    },
    body: `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Submitting the response</title>
<script>${SUBMIT_SCRIPT}</script>
</head>
<body>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="response" value="${escapeHtml(jwt)}">
<noscript><p>JavaScript is off: press the button to continue.</p><button type="submit">Continue</button></noscript>
</form>
</body>
</html>
`,
  }
}

export function deliver (mode: ConcreteJarmMode, redirectUri: string, jwt: string): Delivery {
  if (mode === 'form_post.jwt') return formPostPage(redirectUri, jwt)
  return { status: 303, headers: { location: redirectLocation(mode, redirectUri, jwt), 'cache-control': 'no-store' }, body: '' }
}
