/**
 * What an authorization request stands for, before it is planned (plan-authorization-request.ts):
 *
 * - a request object by value (`request`) is verified and replaced by its parameters: only they
 *   count (RFC 9101 §6.3; FAPI 1.0 Advanced part 2 §5.2.2), `client_id` outside must name its
 *   client, and what FAPI clients repeat outside (`response_type`, `scope`, `redirect_uri`) must agree;
 * - the `request_uri` of a request pushed to the gateway's own PAR endpoint is opened, used once,
 *   and replaced by the pushed parameters (RFC 9126 §4);
 * - the client's registered policy is enforced: `require_signed_request_object` (RFC 9101 §10.5),
 *   `require_pushed_authorization_requests` (RFC 9126 §6) and `response_modes`.
 *
 * A refusal says where it may be delivered as a JARM error: only to a redirect_uri the client's
 * configured `redirect_uris` list. A verified request object does not vouch for its own: the
 * legacy server, which checks redirect_uris against its registrations, has not seen it yet, and a
 * client's signature alone would let any client with keys turn the identity server's origin into
 * an open redirector carrying a gateway signature (RFC 6749 §4.1.2.1: never redirect to an
 * unchecked redirection URI). Pure apart from the verifiers it is handed.
 */
import { GatewayError } from '../errors.js'
import { combineWithOuterParameters } from '../request-objects/combine-with-outer-parameters.js'
import type { VerifiedRequestObject } from '../request-objects/verify-request-object.js'
import { singleValued, type ParameterList } from './parameters.js'
import { PUSHED_REQUEST_URI_PREFIX, unverifiedPayload } from './request-object.js'
import { isJarmResponseMode, resolveJarmMode, responseTypeCarriesTokens, type ConcreteJarmMode } from './response-mode.js'

/** A client's registered policy for its authorization requests. */
export interface ClientRequestPolicy {
  readonly requireSignedRequestObject: boolean
  readonly requirePushedAuthorizationRequests: boolean
  /** The response modes it may use; undefined: any. */
  readonly responseModes?: ReadonlySet<string> | undefined
  /** Whether the gateway holds what verifies its request objects (public keys or a client_secret). */
  readonly verifiable: boolean
  readonly redirectUris: readonly string[]
}

export interface ExpansionContext {
  /** front: the authorization endpoint (a browser); pushed: a PAR endpoint's body. */
  readonly channel: 'front' | 'pushed'
  /** The client's policy; undefined for a client the configuration does not list. */
  readonly clientPolicy: (clientId: string) => ClientRequestPolicy | undefined
  /** Verifies a request object of this client, or throws `invalid_request_object`. */
  readonly verifyRequestObject: (jwt: string, clientId: string) => Promise<VerifiedRequestObject>
  /**
   * Opens and uses up a request_uri the gateway's PAR endpoint handed out; undefined when PAR is the
   * legacy server's (its request_uris pass on as they are).
   */
  readonly openPushedRequest?: ((requestUri: string, clientId: string) => Promise<PushedRequest>) | undefined
}

/** A request pushed to the gateway, as its request_uri carries it. */
export interface PushedRequest {
  readonly parameters: ParameterList
  /** It came as a verified request object. */
  readonly signed: boolean
}

export type Expansion =
  /** Nothing to expand: planned as sent. */
  | { readonly kind: 'as_sent' }
  /** The parameters that count instead of the ones sent. */
  | {
    readonly kind: 'expanded'
    readonly parameters: ParameterList
    readonly signed: boolean
    /** The request object's `exp` (seconds since the epoch): what is made of it must not outlive it. */
    readonly expiresAt?: number | undefined
  }

/** Where a refusal may go as a JARM error: the request's own (vouched for) redirect_uri and mode. */
export interface RefusalDelivery {
  readonly clientId: string
  readonly redirectUri: string
  readonly responseType: string
  readonly mode: ConcreteJarmMode
  readonly state: string | undefined
}

/** A refused request, with where the refusal may be delivered if anything vouches for it. */
export class RequestRefusal extends Error {
  readonly error: GatewayError
  readonly delivery: RefusalDelivery | undefined
  constructor (error: GatewayError, delivery: RefusalDelivery | undefined) {
    super(error.message)
    this.error = error
    this.delivery = delivery
  }
}

/** Parameters of client authentication at a PAR endpoint (RFC 6749 §2.3.1, RFC 7521 §4.2): kept for the legacy server. */
const CLIENT_AUTHENTICATION_PARAMETERS: ReadonlySet<string> = new Set(['client_secret', 'client_assertion', 'client_assertion_type'])

const first = (parameters: ParameterList, name: string): string | undefined => parameters.find(([key]) => key === name)?.[1]

function only (parameters: ParameterList, name: string): string | undefined {
  const values = parameters.filter(([key]) => key === name)
  if (values.length > 1) throw new GatewayError('duplicate_parameter', `parameter ${name} must not be sent more than once`)
  return values[0]?.[1]
}

/** The mode a request's response will come in: its response_mode, or its response type's default (OAuth 2.0 Multiple Response Types §5). */
function effectiveMode (parameters: ParameterList): string {
  const mode = first(parameters, 'response_mode')
  if (mode !== undefined) return mode
  return responseTypeCarriesTokens(first(parameters, 'response_type') ?? 'code') ? 'fragment' : 'query'
}

/** The delivery of a refusal of these parameters, when the client's redirect_uris list its redirect_uri. */
function deliveryFor (parameters: ParameterList, clientId: string, policy: ClientRequestPolicy | undefined): RefusalDelivery | undefined {
  const redirectUri = first(parameters, 'redirect_uri')
  if (redirectUri === undefined || !URL.canParse(redirectUri)) return undefined
  if (policy?.redirectUris.includes(redirectUri) !== true) return undefined
  const responseType = first(parameters, 'response_type') ?? 'code'
  const asked = first(parameters, 'response_mode')
  // The client asked for a JWT mode, or (a FAPI client without response_mode) lists only JWT ones: JARM §2.3.4 `jwt`.
  const mode = asked !== undefined && isJarmResponseMode(asked) ? asked : 'jwt'
  return { clientId, redirectUri, responseType, mode: resolveJarmMode(mode, responseType), state: first(parameters, 'state') }
}

/** The claims of an unverified request object as parameters, only to find where its refusal may go. */
function unverifiedParameters (jwt: string): ParameterList {
  const claims = unverifiedPayload(jwt) ?? {}
  return Object.entries(claims).filter((entry): entry is [string, string] => typeof entry[1] === 'string')
}

export async function expandAuthorizationRequest (parameters: ParameterList, context: ExpansionContext): Promise<Expansion> {
  const clientId = only(parameters, 'client_id')
  const request = only(parameters, 'request')
  const requestUri = only(parameters, 'request_uri')
  const policy = clientId === undefined ? undefined : context.clientPolicy(clientId)
  if (request !== undefined && requestUri !== undefined) throw new GatewayError('invalid_parameter', 'request and request_uri cannot both be sent (RFC 9101 §5)')
  if (context.channel === 'pushed' && requestUri !== undefined) throw new GatewayError('invalid_parameter', 'a pushed authorization request must not carry request_uri (RFC 9126 §2.1)')

  let expanded: ParameterList | undefined
  let signed = false
  let pushed = context.channel === 'pushed'
  /** A handle of the legacy server's PAR: its parameters were checked as they were pushed through the gateway. */
  let checkedWhenPushed = false
  let expiresAt: number | undefined
  if (request !== undefined) {
    const asksForJwt = unverifiedParameters(request).some(([name, value]) => name === 'response_mode' && isJarmResponseMode(value))
    if (policy?.verifiable === true || asksForJwt) {
      if (clientId === undefined) throw new GatewayError('missing_parameter', 'parameter client_id is required beside a request object (RFC 9101 §5)')
      const refusalOf = (error: GatewayError): RequestRefusal => new RequestRefusal(error, deliveryFor(unverifiedParameters(request), clientId, policy))
      if (policy?.verifiable !== true) throw refusalOf(new GatewayError('invalid_request_object', `client ${clientId} has no keys or client_secret configured on this gateway, so its request objects cannot be verified`))
      let verified: VerifiedRequestObject
      try {
        verified = await context.verifyRequestObject(request, clientId)
      } catch (error) {
        throw error instanceof GatewayError && error.code === 'invalid_request_object' ? refusalOf(error) : error
      }
      // RFC 9101 §6.3: only the object's parameters count, with the outer client_id; at a PAR
      // endpoint the client's authentication stays for the server that checks it.
      let combined: ParameterList
      try {
        combined = combineWithOuterParameters(singleValued(parameters), verified).parameters
      } catch (error) {
        // A JARM error to the object's redirect_uri where the configuration lists it.
        const refusal = error as GatewayError
        throw refusal.code === 'invalid_request_object' ? new RequestRefusal(refusal, deliveryFor(verified.parameters, clientId, policy)) : refusal
      }
      // A PAR body's client authentication stays for the server that checks it; in a browser's
      // request it is dropped like every other outer parameter (never forwarded, never re-signed).
      const authentication = context.channel === 'pushed' ? parameters.filter(([name]) => CLIENT_AUTHENTICATION_PARAMETERS.has(name)) : []
      expanded = [combined[0]!, ...authentication, ...combined.slice(1)]
      signed = true
      expiresAt = verified.expiresAt
    }
  } else if (requestUri !== undefined && requestUri.startsWith(PUSHED_REQUEST_URI_PREFIX)) {
    pushed = true
    if (context.openPushedRequest !== undefined) {
      if (clientId === undefined) throw new GatewayError('missing_parameter', 'parameter client_id is required beside request_uri (RFC 9126 §4)')
      const opened = await context.openPushedRequest(requestUri, clientId)
      expanded = [['client_id', clientId], ...opened.parameters.filter(([name]) => name !== 'client_id')]
      signed = opened.signed
    } else {
      // The legacy server's own PAR: the gateway checked the pushed request (this client's policy
      // included) and rewrote it on its way there.
      checkedWhenPushed = true
    }
  }

  if (clientId !== undefined && policy !== undefined && !checkedWhenPushed) {
    const effective = expanded ?? parameters
    const refuse = (error: GatewayError): RequestRefusal => new RequestRefusal(error, deliveryFor(effective, clientId, policy))
    if (policy.requirePushedAuthorizationRequests && !pushed) {
      throw refuse(new GatewayError('invalid_parameter', `client ${clientId} must push its authorization requests (require_pushed_authorization_requests): send client_id and the request_uri of its pushed authorization request`))
    }
    if (policy.requireSignedRequestObject && !signed) {
      throw refuse(new GatewayError('invalid_request_object', `client ${clientId} must send a signed request object (require_signed_request_object)`))
    }
    const mode = effectiveMode(effective)
    if (policy.responseModes !== undefined && !policy.responseModes.has(mode)) {
      throw refuse(new GatewayError('invalid_parameter', `response_mode ${mode} is not one of the response_modes of client ${clientId}`))
    }
  }
  return expanded === undefined ? { kind: 'as_sent' } : { kind: 'expanded', parameters: expanded, signed, ...(expiresAt === undefined ? {} : { expiresAt }) }
}
