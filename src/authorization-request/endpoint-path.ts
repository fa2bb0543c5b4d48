/**
 * Is a request path the legacy server's authorization endpoint? Servers route more spellings of a
 * path to one handler than a string comparison sees: oidc-provider (koa-router) serves `/auth`,
 * `/auth/`, `//auth` and `/AUTH` alike, servlet containers ignore `;jsessionid=...` path
 * parameters, many servers decode `%61` before routing. A JWT-mode request sent under such a
 * spelling would skip the rewrite and reach the legacy server with the client's own mode and state
 * (a lenient server then answers in plain text). So paths are compared in a canonical form; matching
 * too much is harmless, since only requests that ask for a JWT mode are rewritten. Pure.
 */

/** RFC 3986 §2.3: unreserved characters mean the same percent-encoded or not. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/
/**
 * Reserved delimiters some servers decode before routing (`%2F` as a segment break, `%3B` as a path
 * parameter, `%5C` as a backslash): read as such, so the path is never taken for less than the
 * endpoint it may reach. A server that does not decode them answers the rewritten request with a 404.
 */
const ROUTED_WHEN_DECODED = /^[/;\\]$/

/**
 * Paths made of plain segments only (no percent sign, `;`, backslash, empty or dot segment): their
 * canonical form is the path itself, less a trailing slash, in lower case. Nearly every request
 * path is one; the general case below builds a URL.
 */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)*\/?$/

export function canonicalPath (path: string): string {
  return PLAIN_PATH.test(path) ? (path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path).toLowerCase() : canonicalPathOfAny(path)
}

/** The canonical form of any path, plain or not (exported so a test can hold the plain-path shortcut to it). */
export function canonicalPathOfAny (path: string): string {
  return normalisedPath(path).toLowerCase()
}

/**
 * A path as servers route it, in its case: unreserved escapes decoded, `;` parameters, empty and
 * dot segments gone, no trailing slash. The issuers module routes on it, where a tenant's name
 * keeps its case (Keycloak realm names are case-sensitive).
 */
export function normalisedPath (path: string): string {
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const character = String.fromCharCode(parseInt(hex, 16))
    return UNRESERVED.test(character) || ROUTED_WHEN_DECODED.test(character) ? character : escape.toUpperCase()
  })
  const segments = decoded.replace(/\\/g, '/').split('/').map((segment) => segment.split(';')[0]!)
  // Dot segments resolved as a URL parser does (RFC 3986 §5.2.4), once repeated slashes are one.
  const resolved = new URL(`/${segments.filter((segment) => segment !== '').join('/')}`, 'http://canonical.invalid').pathname
  return resolved.replace(/\/+$/, '') || '/'
}

/** Whether a request path names the endpoint at `endpointPath` (the authorization or PAR endpoint), under any spelling the legacy server routes there. */
export function matchesEndpointPath (requestPath: string, endpointPath: string): boolean {
  if (requestPath === endpointPath) return true
  const endpoint = canonicalEndpoint(endpointPath)
  // A plain path is its canonical form give or take a trailing slash (and a format suffix, below):
  // one whose length is further off cannot match, and most request paths are told apart here
  // without building anything.
  if (PLAIN_PATH.test(requestPath) && Math.abs(requestPath.length - endpoint.length) > 1 && !requestPath.includes('.')) return false
  const canonical = canonicalPath(requestPath)
  // Rails (`(.:format)`) and Spring MVC's suffix pattern matching route `/authorize.json` or
  // `/authorize.do` to `/authorize`: a format suffix on the last segment names the endpoint too.
  return canonical === endpoint || canonical.replace(/(\/[^/]+)\.[a-z0-9]{1,10}$/, '$1') === endpoint
}

/**
 * Endpoint paths come from the discovery document (a handful per gateway), while every request is
 * compared with them: their canonical form is worked out once, not on each request.
 */
const MAX_CACHED_ENDPOINTS = 16
const canonicalEndpoints = new Map<string, string>()
function canonicalEndpoint (endpointPath: string): string {
  let canonical = canonicalEndpoints.get(endpointPath)
  if (canonical === undefined) {
    canonical = canonicalPath(endpointPath)
    // Bounded however often a legacy server changes its discovery document.
    if (canonicalEndpoints.size >= MAX_CACHED_ENDPOINTS) canonicalEndpoints.clear()
    canonicalEndpoints.set(endpointPath, canonical)
  }
  return canonical
}
