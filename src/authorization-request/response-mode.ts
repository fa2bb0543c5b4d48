/**
 * Response mode resolution (JARM §2.3): which JWT mode the client asked for, and which plain mode the
 * legacy server is asked for instead. Pure: strings in, strings out.
 */

export const JARM_RESPONSE_MODES = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const
export type JarmResponseMode = typeof JARM_RESPONSE_MODES[number]
/** A JARM mode with the `jwt` shortcut resolved. */
export type ConcreteJarmMode = Exclude<JarmResponseMode, 'jwt'>

export const PLAIN_RESPONSE_MODES = ['query', 'fragment', 'form_post'] as const
export type PlainResponseMode = typeof PLAIN_RESPONSE_MODES[number]
/** `auto` asks the legacy server for a redirect (query, or fragment when tokens are returned). */
export type UpstreamResponseModePreference = 'auto' | PlainResponseMode

const JARM_MODE_SET: ReadonlySet<string> = new Set(JARM_RESPONSE_MODES)

export function isJarmResponseMode (value: string): value is JarmResponseMode {
  return JARM_MODE_SET.has(value)
}

/** True when the response type returns a token or an ID token through the front channel. */
export function responseTypeCarriesTokens (responseType: string): boolean {
  return responseType.split(' ').some((type) => type === 'token' || type === 'id_token')
}

/**
 * JARM §2.3.4: `jwt` means `query.jwt` for `code` (and `none`), `fragment.jwt` whenever the
 * response type returns a token or an ID token.
 */
export function resolveJarmMode (mode: JarmResponseMode, responseType: string): ConcreteJarmMode {
  if (mode !== 'jwt') return mode
  return responseTypeCarriesTokens(responseType) ? 'fragment.jwt' : 'query.jwt'
}

/**
 * The plain mode the legacy server is asked for. A redirect is the cheapest answer to capture, so
 * `auto` asks for `query`, or `fragment` when tokens are returned (no server puts tokens in a query).
 */
export function chooseUpstreamMode (responseType: string, preference: UpstreamResponseModePreference): PlainResponseMode {
  const carriesTokens = responseTypeCarriesTokens(responseType)
  if (preference === 'form_post' || preference === 'fragment') return preference
  return carriesTokens ? 'fragment' : 'query'
}
