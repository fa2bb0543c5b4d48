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

/**
 * A sealed state up to this long rides in its cookie whole, so a legacy error that dropped `state`
 * can still be wrapped for its flow; a longer one's cookie holds only `-` (the name, from the
 * sealed state's hash, is the binding). Short values, and at most MAX_BOUND_FLOWS flows per browser,
 * keep a browser from being locked out of the identity server by its own cookies (a "cookie bomb":
 * Node refuses request heads over 16 KiB with a 431).
 */
export const MAX_INLINE_SEALED_STATE_LENGTH = 512
/** Flows bound to one browser at once; starting another ends the binding of the oldest. */
export const MAX_BOUND_FLOWS = 6

const NAME = /^(?:__Host-)?jarm-gw-[A-Za-z0-9_-]{16}$/
/**
 * The mark of a flow pushed through PAR in progress in this browser: such a flow cannot be bound
 * (no browser took part when it was sealed), but a page too large to read must still fail closed.
 */
const PUSHED_MARK = 'jarm-gw-pushed'

function attributes (secure: boolean): string {
  return `Path=/; HttpOnly; ${secure ? 'Secure; SameSite=None' : 'SameSite=Lax'}`
}

export function bindingCookieName (sealed: string, secure: boolean): string {
  return `${secure ? '__Host-' : ''}jarm-gw-${createHash('sha256').update(sealed).digest('base64url').slice(0, 16)}`
}

function bindingValue (sealed: string): string {
  return sealed.length <= MAX_INLINE_SEALED_STATE_LENGTH ? sealed : '-'
}

/** The Set-Cookie value that binds a flow to this browser for `maxAgeSeconds`. */
export function bindingCookie (sealed: string, secure: boolean, maxAgeSeconds: number): string {
  return `${bindingCookieName(sealed, secure)}=${bindingValue(sealed)}; Max-Age=${maxAgeSeconds}; ${attributes(secure)}`
}

/** The Set-Cookie value that ends a binding once its flow is answered. */
export function clearingCookie (sealed: string, secure: boolean): string {
  return clearingCookieNamed(bindingCookieName(sealed, secure), secure)
}

function clearingCookieNamed (name: string, secure: boolean): string {
  return `${name}=; Max-Age=0; ${attributes(secure)}`
}

/** The Set-Cookie value that marks a PAR flow in progress in this browser. */
export function pushedFlowCookie (secure: boolean, maxAgeSeconds: number): string {
  return `${secure ? '__Host-' : ''}${PUSHED_MARK}=1; Max-Age=${maxAgeSeconds}; ${attributes(secure)}`
}

/** The cookie pairs of a Cookie header (RFC 6265 §5.4: `; ` between pairs), in the order sent. */
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
  const expected = Buffer.from(bindingValue(sealed))
  return pairs(cookieHeader).some(([n, value]) => {
    if (n !== name) return false
    const held = Buffer.from(value)
    return held.length === expected.length && timingSafeEqual(held, expected)
  })
}

/** The sealed states of the flows bound to this browser whose cookie holds them. */
export function boundStates (cookieHeader: string | undefined): string[] {
  return pairs(cookieHeader).filter(([name, value]) => NAME.test(name) && value !== '-').map(([, value]) => value)
}

/** Whether a flow may be in progress in this browser: one bound to it, or a PAR flow's mark. */
export function hasFlowCookies (cookieHeader: string | undefined): boolean {
  return cookieHeader !== undefined && cookieHeader.includes('jarm-gw-') && pairs(cookieHeader).some(([name]) => NAME.test(name) || name.endsWith(PUSHED_MARK))
}

/**
 * The Set-Cookie values that end the oldest bindings, so that with the one being added this browser
 * holds at most MAX_BOUND_FLOWS. Browsers send older cookies first (RFC 6265 §5.4, step 2).
 */
export function evictedBindings (cookieHeader: string | undefined, secure: boolean): string[] {
  const names = pairs(cookieHeader).map(([name]) => name).filter((name) => NAME.test(name))
  return names.slice(0, Math.max(0, names.length - (MAX_BOUND_FLOWS - 1))).map((name) => clearingCookieNamed(name, secure))
}

/**
 * The Cookie header for the legacy server: the gateway's own cookies are its business alone
 * (and would only make the legacy server's request heads larger). Undefined when none is left.
 */
export function withoutBindingCookies (cookieHeader: string): string | undefined {
  if (!cookieHeader.includes('jarm-gw-')) return cookieHeader
  const kept = cookieHeader.split(';').filter((part) => {
    const at = part.indexOf('=')
    const name = (at === -1 ? part : part.slice(0, at)).trim()
    return !NAME.test(name) && name !== PUSHED_MARK && name !== `__Host-${PUSHED_MARK}`
  }).map((part) => part.trim())
  return kept.length === 0 ? undefined : kept.join('; ')
}
