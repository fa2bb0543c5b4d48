/**
 * JAR and PAR for one issuer, built from the configuration: how its clients' request objects are
 * verified (RFC 9101 §6 with the FAPI rules of src/request-objects/), where its pushed requests go
 * (the legacy server's PAR, or the gateway's own at `{issuer}/jarm-gateway/par`), and how a
 * verified request goes on to the legacy server (as plain parameters, or re-signed by a gateway
 * key for a server that requires JAR). The pipeline (src/gateway.ts) asks this module; the checks
 * themselves live in expand-request.ts, src/request-objects/ and src/pushed-requests/.
 */
import type { ClientConfig, GatewayConfig } from '../config/load-config.js'
import type { Issuer } from '../issuers/issuer-registry.js'
import type { AsymmetricAlg } from '../jarm/sign-jwt.js'
import type { UpstreamMetadata } from '../metadata/upstream-metadata.js'
import { authenticateClient, type ClientCredentials } from '../pushed-requests/client-authentication.js'
import { consumePushedRequest, type PushedRequestSealer } from '../pushed-requests/pushed-request-uri.js'
import type { PushedRequestEndpoint } from '../pushed-requests/serve-pushed-request.js'
import type { ReplayStore } from '../replay/replay-store.js'
import { resignRequestObject } from '../request-objects/resign-request-object.js'
import { verifyRequestObject } from '../request-objects/verify-request-object.js'
import { expandAuthorizationRequest, type ClientRequestPolicy, type ExpansionContext } from './expand-request.js'
import type { ParameterList } from './parameters.js'
import { planAuthorizationRequest } from './plan-authorization-request.js'
import type { FlowStateSealer } from '../flow-state/sealed-state.js'

/**
 * The algorithms request objects and client assertions may use: FAPI's PS256 and ES256, EdDSA
 * (and its JOSE name Ed25519, which oauth4webapi writes), the other RSA and ECDSA ones, HS* only
 * with a client_secret (verify-request-object.ts). Never `none`.
 */
export const REQUEST_OBJECT_SIGNING_ALGS: readonly string[] = ['PS256', 'ES256', 'EdDSA', 'Ed25519', 'PS384', 'PS512', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'HS256', 'HS384', 'HS512']
/** Algorithms a client assertion (private_key_jwt) may use: asymmetric only. */
const ASSERTION_ALGS = REQUEST_OBJECT_SIGNING_ALGS.filter((alg) => !alg.startsWith('HS'))
/** RFC 9126 §2.2 recommends a short lifetime; the gateway's path for the PAR endpoint it serves. */
export const GATEWAY_PAR_NAME = 'jarm-gateway/par'
/** FAPI 2.0 §5.3.2.1 asks servers to allow 10 s of clock skew on client assertions at least. */
const MIN_ASSERTION_TOLERANCE_S = 10

/** A client's public keys when it registered none: every signature check fails. */
const NO_KEYS = { verificationKeys: async () => [] }

export interface SignedRequestContext {
  readonly config: GatewayConfig
  readonly issuer: Issuer
  readonly metadata: UpstreamMetadata
  readonly replayStore: ReplayStore
  readonly pushedSealer: PushedRequestSealer
  readonly flowSealer: FlowStateSealer
  /** Milliseconds since the epoch. */
  readonly now: () => number
}

type ParLocation = { readonly path: string, readonly uri: string } | undefined

/**
 * Worked out once per configuration and discovery document (both live until replaced), not per
 * request: every request asks, and parsing the issuer's URL each time was ~2 % of a passthrough.
 */
const parLocations = new WeakMap<GatewayConfig, WeakMap<UpstreamMetadata, { readonly location: ParLocation }>>()

/** Where the gateway's own PAR endpoint is for this issuer, when it serves one. */
export function gatewayParLocation (config: GatewayConfig, metadata: UpstreamMetadata): ParLocation {
  let byMetadata = parLocations.get(config)
  if (byMetadata === undefined) parLocations.set(config, byMetadata = new WeakMap())
  let known = byMetadata.get(metadata)
  if (known === undefined) byMetadata.set(metadata, known = { location: parLocationOf(config, metadata) })
  return known.location
}

function parLocationOf (config: GatewayConfig, metadata: UpstreamMetadata): ParLocation {
  const serve = config.pushedAuthorizationRequests.serve
  if (serve === 'upstream' || (serve === 'auto' && metadata.pushedAuthorizationRequestPath !== undefined)) return undefined
  const url = new URL(metadata.issuer)
  const path = `${url.pathname.replace(/\/$/, '')}/${GATEWAY_PAR_NAME}`
  return { path, uri: `${url.origin}${path}` }
}

function clientPolicy (client: ClientConfig | undefined): ClientRequestPolicy | undefined {
  if (client === undefined) return undefined
  return {
    requireSignedRequestObject: client.requireSignedRequestObject,
    requirePushedAuthorizationRequests: client.requirePushedAuthorizationRequests,
    responseModes: client.responseModes,
    verifiable: client.verificationKeys !== undefined || client.clientSecret !== undefined,
    redirectUris: client.redirectUris,
  }
}

/** How requests to this issuer are expanded on a channel (expand-request.ts). */
export function expansionContext (context: SignedRequestContext, channel: 'front' | 'pushed'): ExpansionContext {
  const { config, issuer, metadata, replayStore } = context
  const clients = issuer.settings.clients
  const keyRing = issuer.settings.keyRing
  const servesPar = gatewayParLocation(config, metadata) !== undefined
  return {
    channel,
    clientPolicy: (clientId) => clientPolicy(clients.get(clientId)),
    verifyRequestObject: (jwt, clientId) => {
      const client = clients.get(clientId)!
      return verifyRequestObject(jwt, {
        clientId,
        clientSecret: client.clientSecret,
        requestObjectSigningAlg: client.requestObjectSigningAlg,
        verificationKeys: client.verificationKeys ?? NO_KEYS,
      }, {
        issuer: metadata.issuer,
        signingAlgs: REQUEST_OBJECT_SIGNING_ALGS,
        decryption: keyRing.decryptionKeys.length === 0 ? undefined : { keys: keyRing.decryptionKeys, algs: keyRing.requestObjectEncryptionAlgs, encs: keyRing.requestObjectEncryptionEncs },
        clockToleranceSeconds: config.requestObjects.clockToleranceSeconds,
        replayStore,
      })
    },
    openPushedRequest: servesPar && channel === 'front'
      ? async (requestUri, clientId) => {
        const opened = await consumePushedRequest(context.pushedSealer, replayStore, requestUri, clientId, metadata.issuer)
        return { parameters: opened.parameters, signed: opened.signed }
      }
      : undefined,
  }
}

/**
 * What goes to the legacy server for a request the gateway expanded: its parameters as they are,
 * or (`request_objects.forward: resigned`) a request object signed by a gateway key with the
 * parameters OpenID Connect wants outside it too (client_id, response_type, scope).
 */
export function forwardedParameters (context: SignedRequestContext, parameters: ParameterList): ParameterList {
  const { config, issuer, metadata } = context
  if (config.requestObjects.forward === 'parameters') return parameters
  const clientId = parameters.find(([name]) => name === 'client_id')![1]
  // The algorithm the client registered for its own objects, where the gateway holds a key for it;
  // else default_signed_response_alg, which the loader made sure every key ring can sign.
  const wanted = issuer.settings.clients.get(clientId)?.requestObjectSigningAlg as AsymmetricAlg | undefined
  const ring = issuer.settings.keyRing
  const key = (wanted === undefined ? undefined : ring.keyFor(wanted)) ?? ring.keyFor(config.defaultSignedResponseAlg)!
  const request = resignRequestObject(parameters, key, { audience: metadata.issuer, lifetimeSeconds: config.requestObjects.resignedLifetimeSeconds })
  const outside = parameters.filter(([name]) => name === 'client_id' || name === 'response_type' || name === 'scope')
  return [...outside, ['request', request]]
}

/** The PAR endpoint the gateway serves for this issuer (serve-pushed-request.ts). */
export function pushedRequestEndpoint (context: SignedRequestContext): PushedRequestEndpoint {
  const { config, issuer, metadata, replayStore } = context
  const clients = issuer.settings.clients
  return {
    issuer: metadata.issuer,
    ttlSeconds: config.pushedAuthorizationRequests.ttlSeconds,
    now: context.now,
    sealer: context.pushedSealer,
    authenticate: (input) => authenticateClient(input, (clientId) => credentialsOf(clients.get(clientId)), {
      issuer: metadata.issuer,
      replay: replayStore,
      clockToleranceSeconds: Math.max(config.requestObjects.clockToleranceSeconds, MIN_ASSERTION_TOLERANCE_S),
      allowedAssertionAlgs: ASSERTION_ALGS,
    }),
    expand: (parameters) => expandAuthorizationRequest(parameters, expansionContext(context, 'pushed')),
    // The authorization endpoint will plan it again when the browser brings it: refusals are found now.
    validate: (parameters) => {
      const plan = planAuthorizationRequest(parameters, issuer.policy, context.flowSealer, 'front')
      if (plan.kind === 'refuse') throw plan.error
    },
  }
}

function credentialsOf (client: ClientConfig | undefined): ClientCredentials | undefined {
  if (client?.tokenEndpointAuthMethod === undefined) return undefined
  const subject = client.tlsClientAuth
  return {
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    clientSecret: client.clientSecret,
    verificationKeys: client.verificationKeys,
    ...(subject === undefined ? {} : { [TLS_SUBJECT_FIELDS[subject.field]]: subject.value }),
  }
}

/** RFC 8705 §2.1.2 registration names → the subject fields client-authentication.ts reads. */
const TLS_SUBJECT_FIELDS = {
  tls_client_auth_subject_dn: 'tlsClientAuthSubjectDn',
  tls_client_auth_san_dns: 'tlsClientAuthSanDns',
  tls_client_auth_san_uri: 'tlsClientAuthSanUri',
  tls_client_auth_san_ip: 'tlsClientAuthSanIp',
  tls_client_auth_san_email: 'tlsClientAuthSanEmail',
} as const

