/**
 * The plain page a browser gets when the gateway cannot, or must not, answer the client's
 * redirect_uri. It names the problem and the request id for the operator's logs; never a code,
 * token or secret.
 */
import { ERRORS, type GatewayError } from '../errors.js'
import type { Delivery } from './response-delivery.js'
import { escapeHtml } from './html-escape.js'

export function errorPage (error: GatewayError, requestId: string): Delivery {
  const title = ERRORS[error.code].title
  return {
    status: error.status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    },
    body: `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(error.message)}</p>
<p>Error: <code>${error.oauthError}</code> (<code>${error.code}</code>). Request id: <code>${escapeHtml(requestId)}</code></p>
</body>
</html>
`,
  }
}
