/**
 * What is forwarded once a request object is verified: only the object's parameters count (RFC 9101
 * §5 and §6.3; FAPI 1.0 Advanced part 2 §5.2.2-10), so a parameter outside it is dropped, never
 * forwarded, or the legacy server, which has no JAR, would read an unsigned value the client never
 * signed (a `state` or `response_mode` slipped in by whoever handles the URL).
 *
 * The outer `client_id` stays: it names the client whose keys verified the object (RFC 9101 §5), so
 * it must be there and be that client. FAPI 1.0 clients repeat `response_type`, `scope` and
 * `redirect_uri` outside the object for OAuth 2.0 parsers; where both sides have one they must agree
 * (RFC 9101 §10.7 warns of servers that read the outer value), else the request is refused. Pure.
 */
import { GatewayError } from '../errors.js'
import type { ParameterList } from '../authorization-request/parameters.js'
import type { VerifiedRequestObject } from './verify-request-object.js'

/** Outer parameters that may be repeated beside the object, and how two values are compared. */
const REPEATED_OUTSIDE: Readonly<Record<string, (outer: string, inner: string) => boolean>> = {
  // RFC 6749 §3.1.1 and §3.3: space-delimited lists whose order does not matter.
  response_type: sameWords,
  scope: sameWords,
  // Compared byte for byte, as the redirect_uri is everywhere else.
  redirect_uri: (outer, inner) => outer === inner,
}

function sameWords (outer: string, inner: string): boolean {
  const words = (value: string): string => [...new Set(value.split(' ').filter((word) => word !== ''))].sort().join(' ')
  return words(outer) === words(inner)
}

export interface CombinedParameters {
  /** What the legacy server gets: the client_id, then the object's parameters. */
  readonly parameters: ParameterList
  /** Names of the outer parameters not forwarded (for logging; never their values). */
  readonly dropped: readonly string[]
}

/**
 * The parameters to forward for a request carrying a verified request object. `outer` is the
 * request's own parameters, one value each (`request` among them); refuses with
 * invalid_request_object when the outer client_id is missing or another client, or an outer
 * response_type, scope or redirect_uri differs from the object's.
 */
export function combineWithOuterParameters (outer: ReadonlyMap<string, string>, verified: VerifiedRequestObject): CombinedParameters {
  const outerClientId = outer.get('client_id')
  if (outerClientId === undefined) throw new GatewayError('invalid_request_object', 'client_id is required beside a request object: it names the client whose keys verify it')
  if (outerClientId !== verified.clientId) throw new GatewayError('invalid_request_object', `client_id ${outerClientId} is not the client the request object was verified for`)
  const inner = new Map(verified.parameters)
  for (const [name, same] of Object.entries(REPEATED_OUTSIDE)) {
    const outside = outer.get(name)
    const inside = inner.get(name)
    if (outside !== undefined && inside !== undefined && !same(outside, inside)) {
      throw new GatewayError('invalid_request_object', `${name} outside the request object differs from the one inside it`)
    }
  }
  const dropped = [...outer.keys()].filter((name) => name !== 'client_id' && name !== 'request')
  const parameters = [['client_id', verified.clientId] as const, ...verified.parameters.filter(([name]) => name !== 'client_id')]
  return Object.freeze({ parameters: Object.freeze(parameters), dropped: Object.freeze(dropped) })
}
