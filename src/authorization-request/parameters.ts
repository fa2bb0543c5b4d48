/**
 * OAuth parameters from a query string or a form body. The gateway and the legacy server must read
 * the same values, so a request that repeats a parameter is refused (RFC 6749 §3.1: "Request and
 * response parameters MUST NOT be included more than once") rather than guessed at.
 */
import { GatewayError } from '../errors.js'

export type ParameterList = ReadonlyArray<readonly [name: string, value: string]>

export function parseParameters (encoded: string): ParameterList {
  return [...new URLSearchParams(encoded)]
}

export function encodeParameters (parameters: ParameterList): string {
  return new URLSearchParams(parameters as Array<[string, string]>).toString()
}

/**
 * One value per name, or a `duplicate_parameter` error naming the first repeated parameter.
 * RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
 */
export function singleValued (parameters: ParameterList): ReadonlyMap<string, string> {
  const values = new Map<string, string>()
  const seen = new Set<string>()
  for (const [name, value] of parameters) {
    if (seen.has(name)) {
      throw new GatewayError('duplicate_parameter', `parameter ${name} must not be sent more than once`)
    }
    seen.add(name)
    if (value !== '') values.set(name, value)
  }
  return values
}
