/**
 * The gateway's error catalogue: every error it raises has a stable `code`, the HTTP status of the
 * page it renders, the OAuth `error` value (RFC 6749 §4.1.2.1) and whether it may be sent to the
 * client's redirect_uri. Only errors raised after the redirect_uri is vouched for may be redirected;
 * everything else becomes a plain page, so a bad request can never turn into an open redirect.
 */

export interface ErrorDefinition {
  readonly status: number
  readonly oauthError: string
  /** May this error be wrapped in a JARM response to the client (once its redirect_uri is vouched for)? */
  readonly redirectable: boolean
  readonly title: string
}

export const ERRORS = {
  duplicate_parameter: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'A parameter was sent more than once' },
  missing_parameter: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'A required parameter is missing' },
  invalid_parameter: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'A parameter has an invalid value' },
  // Redirectable only where the config's clients.<id>.redirect_uris vouches for the redirect_uri.
  invalid_request_object: { status: 400, oauthError: 'invalid_request_object', redirectable: true, title: 'The request object asks for something the gateway cannot do' },
  redirect_uri_not_allowed: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This redirect_uri is not allowed for this application' },
  flow_not_bound: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This sign-in was started in another browser' },
  response_mode_not_allowed: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This response mode cannot be used with this response type' },
  request_aborted: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'The request ended before its body was complete' },
  request_body_too_large: { status: 413, oauthError: 'invalid_request', redirectable: false, title: 'The request body is too large' },
  method_not_allowed: { status: 405, oauthError: 'invalid_request', redirectable: false, title: 'The authorization endpoint does not take this method' },
  unexpected_body: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This request must not have a body' },
  unsupported_media_type: { status: 415, oauthError: 'invalid_request', redirectable: false, title: 'The request body must be a form' },
  flow_state_invalid: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This sign-in flow cannot be completed' },
  issuer_path_misspelled: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This address spells an issuer in another case' },
  no_issuer_for_path: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'No issuer of this server answers JWT response modes at this address' },
  flow_state_wrong_issuer: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This sign-in flow belongs to another issuer' },
  flow_state_expired: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'This sign-in flow has expired' },
  capture_failed: { status: 502, oauthError: 'server_error', redirectable: false, title: 'The identity server answered in a way the gateway cannot read' },
  capture_too_large: { status: 502, oauthError: 'server_error', redirectable: false, title: 'The identity server answer is too large' },
  signing_failed: { status: 500, oauthError: 'server_error', redirectable: false, title: 'The response could not be signed' },
  upstream_unreachable: { status: 502, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The identity server cannot be reached' },
  upstream_timeout: { status: 504, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The identity server did not answer in time' },
  upstream_bad_response: { status: 502, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The identity server sent an invalid answer' },
  upstream_tls_failed: { status: 502, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The secure connection to the identity server failed' },
  internal_error: { status: 500, oauthError: 'server_error', redirectable: false, title: 'The gateway failed' },
  client_not_allowed: { status: 400, oauthError: 'unauthorized_client', redirectable: false, title: 'This application may not use a JWT response mode here' },
  // A client's jwks_uri that never answered: no verdict on what it signed, so no refusal the client could act on.
  client_keys_unavailable: { status: 502, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The application\'s keys cannot be fetched' },
  encryption_key_unavailable: { status: 502, oauthError: 'server_error', redirectable: false, title: 'The response could not be encrypted for the application' },
  invalid_request_target: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'The request target is not a path the gateway serves' },
  invalid_host: { status: 400, oauthError: 'invalid_request', redirectable: false, title: 'The Host header is not a valid host and port' },
  transfer_coding_not_implemented: { status: 501, oauthError: 'invalid_request', redirectable: false, title: 'The request uses a transfer coding the gateway does not implement' },
  metadata_unavailable: { status: 503, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The identity server metadata is not available' },
  // RFC 9126 §2.2, §7.3: a pushed request's handle that is not the gateway's, was tampered with, belongs to another client, has expired or was used already.
  invalid_request_uri: { status: 400, oauthError: 'invalid_request_uri', redirectable: false, title: 'The pushed request cannot be used' },
  // RFC 6749 §5.2: client authentication at the PAR endpoint failed (a 401; with WWW-Authenticate when Basic was tried).
  invalid_client: { status: 401, oauthError: 'invalid_client', redirectable: false, title: 'The application could not be authenticated' },
  replay_store_unavailable: { status: 503, oauthError: 'temporarily_unavailable', redirectable: false, title: 'The shared replay store cannot be reached' },
} as const satisfies Record<string, ErrorDefinition>

export type GatewayErrorCode = keyof typeof ERRORS

export class GatewayError extends Error {
  readonly code: GatewayErrorCode
  readonly status: number
  readonly oauthError: string
  readonly redirectable: boolean

  /** `message` is shown to the user: lowercase, names the field, says what was expected, never holds a secret. */
  constructor (code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GatewayError'
    const definition: ErrorDefinition = ERRORS[code]
    this.code = code
    this.status = definition.status
    this.oauthError = definition.oauthError
    this.redirectable = definition.redirectable
  }
}

export function isGatewayError (error: unknown): error is GatewayError {
  return error instanceof GatewayError
}
