/**
 * What clients read: the legacy server's discovery document with the JARM modes and the gateway's
 * signing algorithms added (JARM §3, §4), and its JWKS with the gateway's public keys merged in so
 * clients find the response key where they look; or, when the legacy server has no JWKS, the
 * gateway's own JWKS at a path of its own. Pure.
 */
import type { JWK } from 'jose'
import type { Delivery } from '../respond/response-delivery.js'
import type { UpstreamMetadata } from './upstream-metadata.js'

/** RFC 8414 §2: a server that does not list response_modes_supported supports query and fragment. */
const DEFAULT_RESPONSE_MODES = ['query', 'fragment']

export function isDiscoveryPath (path: string): boolean {
  return path.endsWith('/.well-known/openid-configuration') || path.includes('/.well-known/openid-configuration/') ||
    path.startsWith('/.well-known/oauth-authorization-server')
}

export function publishDiscovery (
  document: Record<string, unknown>,
  gateway: {
    issuer: string | undefined
    responseModes: Iterable<string>
    signingAlgs: readonly string[]
    encryptionAlgs?: readonly string[]
    encryptionEncs?: readonly string[]
    jwksUri?: string | undefined
    /** RFC 9101 §10.1 request objects the gateway verifies: the algorithms it accepts, and decrypts when it has keys for it. */
    requestObjects?: { signingAlgs: readonly string[], encryptionAlgs: readonly string[], encryptionEncs: readonly string[] } | undefined
    /** RFC 9126 §5: the PAR endpoint the gateway serves itself. */
    pushedAuthorizationRequestEndpoint?: string | undefined
    /** RFC 9126 §5: every client must push (each one's require_pushed_authorization_requests). */
    requirePushedAuthorizationRequests?: boolean | undefined
  },
): Record<string, unknown> {
  const objects = gateway.requestObjects
  const listed = Array.isArray(document['response_modes_supported']) ? document['response_modes_supported'] as unknown[] : DEFAULT_RESPONSE_MODES
  return {
    ...document,
    ...(gateway.issuer !== undefined ? { issuer: gateway.issuer } : {}),
    // Only when the legacy server publishes none (UpstreamMetadata.gatewayJwks): the gateway's own JWKS.
    ...(gateway.jwksUri !== undefined ? { jwks_uri: gateway.jwksUri } : {}),
    response_modes_supported: [...new Set([...listed, ...gateway.responseModes])],
    authorization_signing_alg_values_supported: [...gateway.signingAlgs],
    ...(gateway.encryptionAlgs !== undefined ? { authorization_encryption_alg_values_supported: [...gateway.encryptionAlgs] } : {}),
    ...(gateway.encryptionEncs !== undefined ? { authorization_encryption_enc_values_supported: [...gateway.encryptionEncs] } : {}),
    ...(objects !== undefined
      ? {
          request_parameter_supported: true,
          request_object_signing_alg_values_supported: [...objects.signingAlgs],
          ...(objects.encryptionAlgs.length > 0 ? { request_object_encryption_alg_values_supported: [...objects.encryptionAlgs], request_object_encryption_enc_values_supported: [...objects.encryptionEncs] } : {}),
        }
      : {}),
    ...(gateway.pushedAuthorizationRequestEndpoint !== undefined ? { pushed_authorization_request_endpoint: gateway.pushedAuthorizationRequestEndpoint } : {}),
    ...(gateway.requirePushedAuthorizationRequests === true ? { require_pushed_authorization_requests: true } : {}),
  }
}

export function publishJwks (document: Record<string, unknown>, gatewayKeys: ReadonlyArray<Readonly<JWK>>): { document: Record<string, unknown>, collisions: string[] } {
  const upstreamKeys = Array.isArray(document['keys']) ? document['keys'] as JWK[] : []
  const gatewayKids = new Set(gatewayKeys.map((key) => key.kid))
  const collisions = upstreamKeys.map((key) => key.kid).filter((kid): kid is string => kid !== undefined && gatewayKids.has(kid))
  return { document: { ...document, keys: [...upstreamKeys, ...gatewayKeys] }, collisions }
}

/** A request for the gateway's own JWKS (GET or HEAD at its path), answered without the legacy server. */
export function isGatewayJwksRequest (method: string | undefined, path: string, metadata: UpstreamMetadata): boolean {
  return metadata.gatewayJwks !== undefined && path === metadata.gatewayJwks.path && (method === 'GET' || method === 'HEAD')
}

/**
 * The gateway's own JWKS: its public signing keys, and the retired ones a reload keeps (RFC 7517 §8.5
 * media type). `no-cache`: a reload can start signing with a new key at once, so caches revalidate.
 */
export function gatewayJwksAnswer (keys: ReadonlyArray<Readonly<JWK>>): Delivery {
  return { status: 200, headers: { 'content-type': 'application/jwk-set+json', 'cache-control': 'no-cache' }, body: JSON.stringify({ keys }) }
}
