/**
 * The issuers the gateway fronts, each the unit the pipeline runs on: its discovery (cached and
 * refreshed), its clients, its signer and its authorization request policy. A request is routed to
 * one issuer once, by its path (issuer-paths.ts); everything after works on that issuer.
 *
 * Listed issuers are built with the configuration. A `{tenant}` template stands for every issuer of
 * its shape: a tenant is made on first use, discovered at the same path on the legacy server, and
 * kept in a least-recently-used table of `limits.tenants` entries (its clients, signer and policy
 * are the template's, so a tenant costs one discovery cache and a little policy).
 */
import type { Agent } from 'node:http'
import type { AuthorizationRequestPolicy } from '../authorization-request/plan-authorization-request.js'
import { matchesEndpointPath, normalisedPath } from '../authorization-request/endpoint-path.js'
import { signingAlgorithms, type GatewayConfig, type IssuerConfig } from '../config/load-config.js'
import type { Flow } from '../flow-state/sealed-state.js'
import { ResponseTokenFactory } from '../jarm/response-token.js'
import type { KeyRing } from '../keys/signing-keys.js'
import { MetadataCache, type UpstreamMetadata } from '../metadata/upstream-metadata.js'
import { issuerScope, matchScope, matchWellKnownScope, pathSegments, withTenant, type IssuerScope } from './issuer-paths.js'

/** One issuer, as the pipeline runs on it. */
export interface Issuer {
  /** The issuer, tenant filled in; undefined in the one-issuer shorthand without `issuer` (the legacy server's own). */
  readonly issuer: string | undefined
  /** The configuration entry it comes from (a template's, for a tenant). */
  readonly settings: IssuerConfig
  /** Its value of the `issuer` metrics label: bounded by the configuration (a template counts once for its tenants). */
  readonly label: (discovered: UpstreamMetadata) => string
  readonly metadata: MetadataCache
  readonly tokens: ResponseTokenFactory
  readonly policy: AuthorizationRequestPolicy
  readonly signingAlgs: readonly string[]
  /** Which signing keys it publishes (its entry's own, or `shared`), for the keys a reload retires. */
  readonly keysId: string
  /**
   * Whether a flow is this issuer's. A flow sealed for another issuer never is; one sealed without an
   * issuer (before the gateway fronted several, or in the shorthand) is the default issuer's: the
   * first listed one.
   */
  owns (flow: Flow): boolean
}

/**
 * What a path routes to when it names an issuer's path only without case (`/REALMS/a`, or
 * `/realms/A` beside a listed `/realms/a`): one server reads it as that issuer, another (Keycloak's
 * realm names are case-sensitive) as a different one, so it is refused rather than guessed at.
 */
export const MISSPELLED_ISSUER_PATH = Symbol('misspelled issuer path')
export type Routed = Issuer | undefined | typeof MISSPELLED_ISSUER_PATH

/** The keysId of the keys every issuer without its own shares. */
export const SHARED_KEYS = 'shared'

/** Everything of an entry that its tenants share. */
interface Entry {
  readonly settings: IssuerConfig
  readonly scope: IssuerScope
  readonly tokens: ResponseTokenFactory
  readonly signingAlgs: readonly string[]
  readonly keysId: string
}

export interface RegistryDependencies {
  readonly onRefreshError: (error: Error, issuer: string | undefined) => void
  readonly now: () => number
  /** The upstream's keep-alive agent (HTTPS with its TLS settings), which discovery is fetched through. */
  readonly agent?: Agent | undefined
  /** The registry being replaced by a reload: discovery caches of unchanged issuers carry over. */
  readonly previous?: IssuerRegistry | undefined
}

export class IssuerRegistry {
  readonly #config: GatewayConfig
  readonly #dependencies: Omit<RegistryDependencies, 'previous'>
  readonly #listed: Array<{ readonly entry: Entry, readonly issuer: Issuer }> = []
  readonly #templates: Entry[] = []
  /** Tenants by issuer, least recently used first (a Map keeps insertion order). */
  readonly #tenants = new Map<string, Issuer>()
  /** Discovery caches by what they fetch, for a reload to reuse. */
  readonly #caches = new Map<string, MetadataCache>()

  constructor (config: GatewayConfig, dependencies: RegistryDependencies) {
    this.#config = config
    // The previous registry is read here only: kept, it would keep every earlier one alive.
    this.#dependencies = { onRefreshError: dependencies.onRefreshError, now: dependencies.now, agent: dependencies.agent }
    const reusable = dependencies.previous === undefined ? undefined : dependencies.previous.#caches
    for (const settings of config.issuers) {
      const entry: Entry = {
        settings,
        // The shorthand without `issuer` is never matched by path (it owns every path).
        scope: issuerScope(settings.issuer ?? 'http://default'),
        tokens: new ResponseTokenFactory({ ...config, keyRing: settings.keyRing, clients: settings.clients }, dependencies.now),
        signingAlgs: signingAlgorithms(settings),
        keysId: settings.keyRing === config.keyRing ? SHARED_KEYS : settings.issuer!,
      }
      if (settings.template) this.#templates.push(entry)
      else this.#listed.push({ entry, issuer: this.#make(entry, settings.issuer, this.#listed.length === 0, '', reusable) })
    }
  }

  /** The listed issuers (not the tenants of templates), in the configured order. */
  get listed (): Issuer[] {
    return this.#listed.map(({ issuer }) => issuer)
  }

  /** The public keys each issuer publishes, by keysId (what a reload retires). */
  publicKeys (): ReadonlyMap<string, KeyRing['publicJwks']> {
    const keys = new Map<string, KeyRing['publicJwks']>([[SHARED_KEYS, this.#config.keyRing.publicJwks]])
    for (const entry of [...this.#listed.map(({ entry }) => entry), ...this.#templates]) keys.set(entry.keysId, entry.settings.keyRing.publicJwks)
    return keys
  }

  /** Tenants currently kept. */
  get tenantCount (): number {
    return this.#tenants.size
  }

  /** Every listed issuer's discovery (readiness); rejects when one cannot be read. */
  listedMetadata (): Promise<UpstreamMetadata[]> {
    return Promise.all(this.#listed.map(({ issuer }) => issuer.metadata.get()))
  }

  /**
   * The issuer a request path belongs to, or undefined (the path passes through untouched). In the
   * shorthand every path is the one issuer's. Otherwise the listed issuer whose path (or RFC 8414
   * discovery path, or an endpoint its discovery names outside its path) holds the request's wins,
   * the most specific first; then a template's tenant. When no issuer claims the path but a listed
   * issuer's endpoints are not known yet, a request that may ask for a JWT mode waits for them
   * (`mayAskForJwt`): it could be that issuer's authorization endpoint, and must not pass unread.
   */
  route (path: string, mayAskForJwt: boolean): Routed | Promise<Routed> {
    if (!this.#config.routesByPath) return this.#listed[0]!.issuer
    const found = this.#match(path)
    if (found !== undefined || !mayAskForJwt) return found
    const unknown = this.#listed.filter(({ issuer }) => issuer.metadata.peek() === undefined)
    if (unknown.length === 0) return undefined
    return Promise.allSettled(unknown.map(({ issuer }) => issuer.metadata.get())).then((settled) => {
      const again = this.#match(path)
      const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (again === undefined && failed !== undefined) throw failed.reason
      return again
    })
  }

  #match (path: string): Routed {
    const segments = pathSegments(path)
    let best: { issuer: Issuer, length: number, exact: boolean } | undefined
    for (const { entry, issuer } of this.#listed) {
      const matched = matchScope(entry.scope, segments) ?? matchWellKnownScope(entry.scope, segments)
      if (matched !== undefined && (best === undefined || matched.length > best.length)) best = { issuer, ...matched }
    }
    if (best?.exact === true) return best.issuer
    let misspelled = best !== undefined
    if (!misspelled) {
      const spelled = normalisedPath(path)
      for (const { issuer } of this.#listed) {
        const known = issuer.metadata.peek()
        const endpoints = known === undefined ? [] : [known.authorizationEndpointPath, known.pushedAuthorizationRequestPath, known.jwksPath]
        const endpoint = endpoints.find((candidate) => candidate !== undefined && matchesEndpointPath(path, candidate))
        if (endpoint === undefined) continue
        if (spelled.startsWith(normalisedPath(endpoint))) return issuer
        misspelled = true
      }
    }
    // A listed issuer's path (or endpoint) only without case: a template that spells it exactly
    // names a tenant (which must then publish exactly that issuer); anything else cannot be told apart.
    if (misspelled) return this.#template(segments, true) ?? MISSPELLED_ISSUER_PATH
    return this.#template(segments, false)
  }

  /** The tenant of the first template whose shape holds the path; with `exactOnly`, only one spelled as the template does. */
  #template (segments: readonly string[], exactOnly: boolean): Routed {
    for (const entry of this.#templates) {
      const matched = matchScope(entry.scope, segments) ?? matchWellKnownScope(entry.scope, segments)
      if (matched === undefined) continue
      if (!matched.exact) return exactOnly ? undefined : MISSPELLED_ISSUER_PATH
      // A listed issuer wins over a template, also on a path outside its own that the template's shape covers.
      const issuer = withTenant(entry.settings.issuer!, matched.tenant)
      return this.#listed.find((listed) => listed.issuer.issuer === issuer)?.issuer ?? this.#tenant(entry, matched.tenant)
    }
    return undefined
  }

  #tenant (entry: Entry, name: string): Issuer {
    const issuer = withTenant(entry.settings.issuer!, name)
    // Tenants are kept by their issuer, so tenant names that differ only in case stay apart.
    let tenant = this.#tenants.get(issuer)
    if (tenant !== undefined) {
      // Most recently used goes last.
      this.#tenants.delete(issuer)
    } else {
      tenant = this.#make(entry, issuer, false, name)
      if (this.#tenants.size >= this.#config.limits.tenants) this.#tenants.delete(this.#tenants.keys().next().value!)
    }
    this.#tenants.set(issuer, tenant)
    return tenant
  }

  #make (entry: Entry, issuer: string | undefined, isDefault: boolean, tenant: string, reusable?: ReadonlyMap<string, MetadataCache>): Issuer {
    const config = this.#config
    const { settings } = entry
    const fill = <T extends string | undefined>(text: T): T => withTenant(text, tenant)
    const source = {
      upstreamUrl: config.upstream.url,
      issuer,
      discoveryPath: fill(settings.discoveryPath),
      authorizationEndpoint: fill(settings.authorizationEndpoint),
      timeoutMs: config.upstream.timeoutMs,
      maxBytes: config.limits.metadataBytes,
      exactIssuer: config.routesByPath,
    }
    const key = JSON.stringify(source)
    const metadata = reusable?.get(key) ??
      new MetadataCache({ ...source, agent: this.#dependencies.agent }, (error) => this.#dependencies.onRefreshError(error, issuer), this.#dependencies.now)
    if (!settings.template) this.#caches.set(key, metadata)
    const sealedIssuer = config.routesByPath ? issuer : undefined
    return {
      issuer,
      settings,
      label: (discovered) => settings.template ? settings.issuer! : discovered.issuer,
      metadata,
      tokens: entry.tokens,
      signingAlgs: entry.signingAlgs,
      keysId: entry.keysId,
      policy: {
        offeredModes: config.responseModes,
        upstreamModePreference: config.upstream.responseMode,
        isEncryptedFor: (clientId) => settings.clients.get(clientId)?.encryption !== undefined,
        allowsClient: (clientId) => config.unlistedClients === 'sign' || settings.clients.has(clientId),
        redirectUrisFor: (clientId) => settings.clients.get(clientId)?.redirectUris,
        issuer: sealedIssuer,
      },
      owns: (flow) => flow.issuer === undefined ? isDefault : flow.issuer === sealedIssuer,
    }
  }
}
