/**
 * The cases of the quick tools (measure-cpu, compare-builds, profile-gateway): one request path
 * against the instant upstream, and the gateway configuration they all run with.
 */
import { randomBytes } from 'node:crypto'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { CLIENT_STATE, FAKE_REDIRECT_URI } from './fixtures.js'

const query = new URLSearchParams({ client_id: 'es', response_type: 'code', scope: 'openid', redirect_uri: FAKE_REDIRECT_URI, state: CLIENT_STATE }).toString()

/** small (passthrough), page (HTML passthrough), plain (authorization request), es256 / eddsa (query.jwt), form-post (form_post.jwt from a form_post page). */
export const QUICK_CASE_PATHS: Readonly<Record<string, string>> = {
  small: '/small',
  page: '/page',
  plain: `/authorize?${query}`,
  es256: `/authorize?${query}&response_mode=query.jwt`,
  eddsa: `/authorize?${query.replace('client_id=es', 'client_id=ed')}&response_mode=query.jwt`,
  'form-post': `/authorize?${query}&response_mode=form_post.jwt`,
}

export function quickCasePath (which: string): string {
  const path = QUICK_CASE_PATHS[which]
  if (path === undefined) throw new Error(`unknown case ${which}; one of ${Object.keys(QUICK_CASE_PATHS).join(', ')}`)
  return path
}

/** A raw gateway configuration (as in gateway.config.json) for a case, in front of `upstreamUrl`. */
export async function quickCaseConfig (which: string, upstreamUrl: string): Promise<Record<string, unknown>> {
  return {
    upstream: { url: upstreamUrl, response_mode: which === 'form-post' ? 'form_post' : 'auto' },
    keys: { keys: [await generatePrivateJwk('ES256'), await generatePrivateJwk('EdDSA')] },
    clients: { es: { authorization_signed_response_alg: 'ES256' }, ed: { authorization_signed_response_alg: 'EdDSA' } },
    default_signed_response_alg: 'ES256',
    state: { secrets: [randomBytes(32).toString('base64url')] },
  }
}
