/**
 * Which issuer a request path belongs to, and what a `{tenant}` template stands for. One legacy
 * server hosts many issuers under path prefixes (Keycloak `/realms/{realm}`, WSO2
 * `/t/{tenant}/oauth2/...`): a path belongs to the issuer whose path it lies under. Paths are
 * compared as servers route them (src/authorization-request/endpoint-path.ts), fixed segments
 * without case, so `/REALMS/a/` or `/realms/%61` cannot walk past an issuer's rewrite; a
 * tenant's own segment keeps its case, and a tenant of the wrong case fails its discovery (the
 * issuer must be exact). Pure.
 */
import { normalisedPath } from '../authorization-request/endpoint-path.js'
import { TENANT_PLACEHOLDER } from '../config/load-config.js'

/**
 * What a tenant's segment may be: RFC 3986 unreserved characters, never a dot segment. Anything
 * else (an escape that survives decoding, say) is no tenant, so a tenant's issuer is always a URL
 * that serialises as written.
 */
const TENANT_SEGMENT = /^(?!\.\.?$)[A-Za-z0-9._~-]{1,128}$/

/** RFC 8414 §3 and its OpenID twin: discovery of an issuer with a path, the well-known part first. */
const WELL_KNOWN_FIRST = ['.well-known/openid-configuration', '.well-known/oauth-authorization-server']

/** A path's segments as servers route it. */
export function pathSegments (path: string): string[] {
  const normalised = normalisedPath(path)
  return normalised === '/' ? [] : normalised.slice(1).split('/')
}

/** Where an issuer's paths lie: its path's segments, `{tenant}` as undefined. */
export interface IssuerScope {
  /** Fixed segments in lower case; undefined where the tenant stands. */
  readonly segments: ReadonlyArray<string | undefined>
  /** The same, as the issuer spells them. */
  readonly spelled: ReadonlyArray<string | undefined>
}

export function issuerScope (issuer: string): IssuerScope {
  // The loader made sure `{tenant}` is a whole segment; the operator's other segments are taken as
  // written, lower-cased as routing compares them.
  const path = issuer.replace(/^https?:\/\/[^/]*/, '')
  const spelled = path.split('/').filter((segment) => segment !== '').map((segment) => segment === TENANT_PLACEHOLDER ? undefined : segment)
  return { segments: spelled.map((segment) => segment?.toLowerCase()), spelled }
}

/**
 * Whether the path lies under the scope, and the tenant it names there (`''` for a scope without
 * one). A template's scope ends at its tenant: WSO2's `/t/{tenant}/oauth2/token` issuer owns
 * `/t/acme/oauth2/authorize` too. `length` (segments matched) ranks matches: the longer, the more
 * specific. `exact`: every fixed segment as the issuer spells it; a match only without case is a
 * path that one server reads as this issuer's and another as a different one's (Keycloak's realm
 * names are case-sensitive), which the caller refuses rather than guess.
 */
export function matchScope (scope: IssuerScope, segments: readonly string[]): ScopeMatch | undefined {
  const tenantAt = scope.segments.indexOf(undefined)
  const fixed = tenantAt === -1 ? scope.segments : scope.segments.slice(0, tenantAt + 1)
  if (segments.length < fixed.length) return undefined
  let tenant = ''
  let exact = true
  for (const [index, expected] of fixed.entries()) {
    const segment = segments[index]!
    if (expected === undefined) {
      if (!TENANT_SEGMENT.test(segment)) return undefined
      tenant = segment
    } else if (segment.toLowerCase() !== expected) {
      return undefined
    } else if (segment !== scope.spelled[index]) {
      exact = false
    }
  }
  return { tenant, length: fixed.length, exact }
}

export interface ScopeMatch {
  readonly tenant: string
  readonly length: number
  readonly exact: boolean
}

/** Whether the path is one of the RFC 8414 discovery forms of an issuer (`/.well-known/openid-configuration/realms/a`). */
export function matchWellKnownScope (scope: IssuerScope, segments: readonly string[]): ScopeMatch | undefined {
  for (const wellKnown of WELL_KNOWN_FIRST) {
    const [first, second] = wellKnown.split('/')
    if (segments[0]?.toLowerCase() !== first || segments[1]?.toLowerCase() !== second) continue
    const rest = segments.slice(2)
    const matched = matchScope(scope, rest)
    if (matched !== undefined && rest.length === scope.segments.length) return matched
  }
  return undefined
}

/** A template's text with the tenant filled in (`{tenant}` in an issuer, a discovery path or an endpoint). */
export function withTenant<T extends string | undefined> (text: T, tenant: string): T {
  return (text === undefined ? undefined : text.replaceAll(TENANT_PLACEHOLDER, tenant)) as T
}
