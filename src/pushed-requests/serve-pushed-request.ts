/**
 * The PAR endpoint the gateway serves itself, for a legacy server without one (RFC 9126 §2): the
 * client authenticates (client-authentication.ts), the pushed parameters are checked like an
 * authorization request (a request object verified and expanded, the client's policy, then the
 * same plan the authorization endpoint makes), and the answer is a request_uri that seals them
 * (pushed-request-uri.ts). Nothing is stored: any replica opens the request_uri, and its one-time
 * use is recorded when the browser brings it to the authorization endpoint.
 *
 * The sealed flow state is not made here but when the browser arrives: only then can the flow be
 * bound to that browser (src/flow-state/browser-binding.ts).
 */
import type { X509Certificate } from 'node:crypto'
import type { Expansion } from '../authorization-request/expand-request.js'
import type { ParameterList } from '../authorization-request/parameters.js'
import { GatewayError } from '../errors.js'
import type { Delivery } from '../respond/response-delivery.js'
import { AUTHENTICATION_PARAMETERS, type AuthenticatedClient, type ClientAuthenticationInput } from './client-authentication.js'
import { pushedRequestCreated } from './pushed-request-response.js'
import type { PushedRequestSealer } from './pushed-request-uri.js'

export interface PushedRequestEndpoint {
  /** The issuer the endpoint belongs to: the request_uri is bound to it. */
  readonly issuer: string | undefined
  readonly ttlSeconds: number
  /** Milliseconds since the epoch. */
  readonly now: () => number
  readonly sealer: PushedRequestSealer
  readonly authenticate: (input: ClientAuthenticationInput) => Promise<AuthenticatedClient>
  /** expandAuthorizationRequest on the pushed channel. */
  readonly expand: (parameters: ParameterList) => Promise<Expansion>
  /** Throws what the authorization endpoint would refuse these parameters for. */
  readonly validate: (parameters: ParameterList) => void
}

export interface PushedRequestInput {
  readonly authorization: string | undefined
  readonly parameters: ParameterList
  /** Verified by the TLS handshake, or undefined. */
  readonly clientCertificate: X509Certificate | undefined
}

export async function servePushedRequest (input: PushedRequestInput, endpoint: PushedRequestEndpoint): Promise<Delivery> {
  // The authentication refuses a body client_id of another client (client-authentication.ts).
  const client = await endpoint.authenticate(input)
  const sent: ParameterList = [['client_id', client.clientId], ...client.parameters.filter(([name]) => name !== 'client_id' && !AUTHENTICATION_PARAMETERS.has(name))]
  const expansion = await endpoint.expand(sent)
  const parameters = expansion.kind === 'expanded' ? expansion.parameters.filter(([name]) => !AUTHENTICATION_PARAMETERS.has(name)) : sent
  endpoint.validate(parameters)
  // A request made of a request object lives no longer than the object (RFC 9101 §6: its exp).
  const objectLeft = expansion.kind === 'expanded' && expansion.expiresAt !== undefined ? Math.floor(expansion.expiresAt - endpoint.now() / 1000) : Infinity
  if (objectLeft < 1) throw new GatewayError('invalid_request_object', 'the request object expires before its pushed request could be used')
  const sealed = endpoint.sealer.seal(client.clientId, parameters, Math.min(endpoint.ttlSeconds, objectLeft), { issuer: endpoint.issuer, signed: expansion.kind === 'expanded' && expansion.signed })
  return pushedRequestCreated(sealed)
}
