/**
 * The legacy server's discovery document (OpenID Connect Discovery 1.0, RFC 8414), fetched through the
 * upstream URL with the public Host, kept and refreshed in the background. It tells the gateway
 * which paths are the authorization endpoint and the JWKS, and the issuer of its responses.
 */
import type { Agent } from 'node:http'
import { GatewayError } from '../errors.js'
import { getFromUpstream } from '../http/upstream-request.js'

/** How long a discovery document is used before it is fetched again (in the background). */
export const METADATA_REFRESH_MS = 5 * 60 * 1000

export interface UpstreamMetadata {
  readonly issuer: string
  readonly document: Readonly<Record<string, unknown>>
  readonly authorizationEndpointPath: string
  readonly jwksPath: string | undefined
  /**
   * Set when the legacy server publishes no jwks_uri (RFC 8414 §2 makes it optional): the gateway
   * then serves its own JWKS at `path` and publishes `uri` as jwks_uri (see gatewayJwksLocation).
   */
  readonly gatewayJwks?: GatewayJwksLocation | undefined
  /** RFC 9126 §5: where clients push authorization requests, when the legacy server has PAR. */
  readonly pushedAuthorizationRequestPath?: string | undefined
  /**
   * Paths of the endpoints the discovery document names that are not the authorization flow
   * (token, userinfo, logout, ...): what they answer is never an authorization response.
   */
  readonly nonFlowPaths: readonly string[]
  /** Set when a configured issuer differs from the one the legacy server publishes. */
  readonly issuerMismatch: string | undefined
}

/**
 * Discovery fields of endpoints outside the authorization flow (OpenID Connect Discovery §3,
 * RFC 8414 §2, RP-Initiated Logout §2.1, Session Management §3.3, RFC 7009, RFC 7662, RFC 7591,
 * RFC 8628, RFC 9126, CIBA §4). The authorization endpoint and the pages of the legacy server's
 * own (login, consent) are the flow.
 */
const NON_FLOW_ENDPOINTS = [
  'token_endpoint', 'userinfo_endpoint', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint',
  'registration_endpoint', 'pushed_authorization_request_endpoint', 'device_authorization_endpoint',
  'backchannel_authentication_endpoint', 'check_session_iframe', 'jwks_uri',
]

export interface MetadataSource {
  readonly upstreamUrl: string
  readonly issuer?: string | undefined
  readonly discoveryPath?: string | undefined
  readonly authorizationEndpoint?: string | undefined
  readonly timeoutMs: number
  readonly maxBytes: number
  /** The upstream's keep-alive agent (HTTPS with its TLS settings for an https:// upstream). */
  readonly agent?: Agent | undefined
  /**
   * The legacy server must publish exactly `issuer` (when the gateway fronts several issuers): a
   * document of another issuer is not this one's, so it is refused rather than published.
   */
  readonly exactIssuer?: boolean | undefined
}

/** Where discovery may live for an issuer, in the order tried. */
export function discoveryPaths (issuer: string | undefined): string[] {
  const issuerPath = issuer === undefined ? '' : new URL(issuer).pathname.replace(/\/$/, '')
  if (issuerPath === '') return ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']
  return [
    `${issuerPath}/.well-known/openid-configuration`,
    `/.well-known/oauth-authorization-server${issuerPath}`,
    `/.well-known/openid-configuration${issuerPath}`,
  ]
}

/** The name, under the issuer's path, of the JWKS the gateway serves when the legacy server has none. */
export const GATEWAY_JWKS_NAME = '.well-known/jarm-gateway-jwks.json'

export interface GatewayJwksLocation {
  /** The request path the gateway answers itself (never forwarded). */
  readonly path: string
  /** The jwks_uri published in discovery. */
  readonly uri: string
}

/**
 * Where the gateway's own JWKS lives: `<issuer path>/.well-known/jarm-gateway-jwks.json` on the
 * issuer's origin. Under the issuer's path because that is the space the issuer (and so the
 * gateway in front of it) speaks for, as `{issuer}/.well-known/openid-configuration` is; a name of
 * the gateway's own so that no legacy route is shadowed; from the issuer alone (configured, or the
 * legacy server's discovery), never from a request's Host, so no request can steer it.
 */
export function gatewayJwksLocation (issuer: string): GatewayJwksLocation {
  const url = new URL(issuer)
  const path = `${url.pathname.replace(/\/$/, '')}/${GATEWAY_JWKS_NAME}`
  return { path, uri: `${url.origin}${path}` }
}

function pathOf (value: unknown): string | undefined {
  return typeof value === 'string' && URL.canParse(value) ? new URL(value).pathname : undefined
}

export function readMetadata (document: Record<string, unknown>, source: MetadataSource): UpstreamMetadata {
  const published = document['issuer']
  const authorizationEndpointPath = source.authorizationEndpoint ?? pathOf(document['authorization_endpoint'])
  if (typeof published !== 'string' || authorizationEndpointPath === undefined) {
    throw new Error('the discovery document has no issuer or authorization_endpoint')
  }
  const issuer = source.issuer ?? published
  if (source.exactIssuer === true && issuer !== published) throw new Error(`the discovery document is issuer ${published}, not ${issuer}`)
  const jwksPath = pathOf(document['jwks_uri'])
  return {
    issuer,
    document,
    authorizationEndpointPath,
    jwksPath,
    gatewayJwks: jwksPath === undefined ? gatewayJwksLocation(issuer) : undefined,
    pushedAuthorizationRequestPath: pathOf(document['pushed_authorization_request_endpoint']),
    nonFlowPaths: NON_FLOW_ENDPOINTS.map((name) => pathOf(document[name])).filter((path): path is string => path !== undefined && path !== authorizationEndpointPath),
    issuerMismatch: issuer !== published ? `the configured issuer ${issuer} differs from the legacy server's ${published}` : undefined,
  }
}

export class MetadataCache {
  readonly #source: MetadataSource
  #current: UpstreamMetadata | undefined
  #fetchedAt = 0
  #inFlight: Promise<UpstreamMetadata> | undefined
  #onError: (error: Error) => void

  readonly #now: () => number

  constructor (source: MetadataSource, onError: (error: Error) => void, now: () => number = Date.now) {
    this.#source = source
    this.#onError = onError
    this.#now = now
  }

  /** The cached metadata (refreshed in the background when old), or the first fetch. */
  get (): Promise<UpstreamMetadata> | UpstreamMetadata {
    if (this.#current !== undefined) {
      if (this.#now() - this.#fetchedAt > METADATA_REFRESH_MS) this.refresh().catch(this.#onError)
      return this.#current
    }
    return this.refresh().catch((cause: Error) => {
      throw new GatewayError('metadata_unavailable', 'the identity server discovery document could not be read; try again shortly', { cause })
    })
  }

  /** The metadata read so far, without fetching (undefined before the first document arrived). */
  peek (): UpstreamMetadata | undefined {
    return this.#current
  }

  refresh (): Promise<UpstreamMetadata> {
    this.#inFlight ??= this.#fetch().then((metadata) => {
      this.#current = metadata
      this.#fetchedAt = this.#now()
      return metadata
    }).finally(() => { this.#inFlight = undefined })
    return this.#inFlight
  }

  async #fetch (): Promise<UpstreamMetadata> {
    const { upstreamUrl, issuer, discoveryPath, timeoutMs, maxBytes, agent } = this.#source
    const issuerUrl = issuer === undefined ? undefined : new URL(issuer)
    const failures: string[] = []
    for (const path of discoveryPath !== undefined ? [discoveryPath] : discoveryPaths(issuer)) {
      const url = new URL(path, upstreamUrl)
      try {
        const reply = await getFromUpstream(url, { host: issuerUrl?.host, forwardedProto: issuerUrl?.protocol.slice(0, -1), timeoutMs, maxBytes, agent })
        if (reply.status !== 200) { failures.push(`${path}: HTTP ${reply.status}`); continue }
        return readMetadata(JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>, this.#source)
      } catch (error) {
        failures.push(`${path}: ${(error as Error).message}`)
      }
    }
    throw new Error(`no discovery document found on ${upstreamUrl} (${failures.join('; ')})`)
  }
}
