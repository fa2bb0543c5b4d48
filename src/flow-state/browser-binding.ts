/**
 * Binding a sealed flow to the browser that started it. A sealed state is otherwise a bearer value:
 * whoever reads it off a login or error page could replay it in another browser's request and have
 * that browser's answer captured as the flow's. The answer to the authorization request sets a
 * cookie holding the sealed state itself, named after its hash, so several flows at once in one
 * browser each have their own; a capture needs the cookie of its flow (or to be the answer to the
 * very request that sealed it). The cookie is HttpOnly, lives as long as the flow, and is `__Host-`
 * prefixed and Secure, SameSite=None (a flow may come back through a cross-site POST, a federated
 * login's form_post) when the public origin is HTTPS; over plain HTTP (a demo, a test) it can only
 * be a SameSite=Lax cookie without prefix (RFC 6265bis §4.1.3.2, §5.4.7). Pure.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

/** Browsers keep cookies up to 4096 bytes of name and value (RFC 6265 §6.1): the sealed state must fit beside the name. */
export const MAX_BOUND_SEALED_STATE_LENGTH = 4096 - 48

const NAME = /^(?:__Host-)?jarm-gw-[A-Za-z0-9_-]{16}$/

export function bindingCookieName (sealed: string, secure: boolean): string {
  return `${secure ? '__Host-' : ''}jarm-gw-${createHash('sha256').update(sealed).digest('base64url').slice(0, 16)}`
}

/** The Set-Cookie value that binds a flow to this browser for `maxAgeSeconds`. */
export function bindingCookie (sealed: string, secure: boolean, maxAgeSeconds: number): string {
  const attributes = secure ? 'Secure; SameSite=None' : 'SameSite=Lax'
  return `${bindingCookieName(sealed, secure)}=${sealed}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; ${attributes}`
}

/** The Set-Cookie value that ends a binding once its flow is answered. */
export function clearingCookie (sealed: string, secure: boolean): string {
  return `${bindingCookieName(sealed, secure)}=; Path=/; Max-Age=0; HttpOnly; ${secure ? 'Secure; SameSite=None' : 'SameSite=Lax'}`
}

/** The cookie pairs of a Cookie header (RFC 6265 §5.4: `; ` between pairs). */
function pairs (cookieHeader: string | undefined): Array<[string, string]> {
  if (cookieHeader === undefined || cookieHeader === '') return []
  const found: Array<[string, string]> = []
  for (const part of cookieHeader.split(';')) {
    const at = part.indexOf('=')
    if (at === -1) continue
    found.push([part.slice(0, at).trim(), part.slice(at + 1).trim()])
  }
  return found
}

/** Whether this browser holds the binding cookie of the flow sealed as `sealed`. */
export function isBoundHere (cookieHeader: string | undefined, sealed: string, secure: boolean): boolean {
  const name = bindingCookieName(sealed, secure)
  const expected = Buffer.from(sealed)
  return pairs(cookieHeader).some(([n, value]) => {
    if (n !== name) return false
    const held = Buffer.from(value)
    return held.length === expected.length && timingSafeEqual(held, expected)
  })
}

/** The sealed states of every flow bound to this browser. */
export function boundStates (cookieHeader: string | undefined): string[] {
  return pairs(cookieHeader).filter(([name]) => NAME.test(name)).map(([, value]) => value)
}

/**
 * The Cookie header for the legacy server: the gateway's own cookies are its business alone
 * (and would only make the legacy server's request heads larger). Undefined when none is left.
 */
export function withoutBindingCookies (cookieHeader: string): string | undefined {
  if (!cookieHeader.includes('jarm-gw-')) return cookieHeader
  const kept = cookieHeader.split(';').filter((part) => {
    const at = part.indexOf('=')
    return !NAME.test((at === -1 ? part : part.slice(0, at)).trim())
  }).map((part) => part.trim())
  return kept.length === 0 ? undefined : kept.join('; ')
}
