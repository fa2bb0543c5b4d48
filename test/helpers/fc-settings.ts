/**
 * Settings shared by the property and fuzz suites: one seed per file (printed, and replayed with
 * FC_SEED=...), a short run always on, and longer runs behind PROPERTY_RUNS / FUZZ_RUNS.
 */
import fc from 'fast-check'

export const SEED = process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0

/** The number of runs of each property: `fallback` in CI, PROPERTY_RUNS when set. */
export function propertyRuns (fallback: number): number {
  return process.env['PROPERTY_RUNS'] !== undefined ? Number(process.env['PROPERTY_RUNS']) : fallback
}

export function fcOptions (numRuns: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns, endOnFailure: false }
}

/** Strings of any Unicode scalar values (no lone surrogates, which no URL or HTML can carry). */
export const anyText = (maxLength = 40): fc.Arbitrary<string> => fc.oneof(
  fc.string({ unit: 'grapheme', maxLength }),
  fc.string({ unit: 'binary', maxLength }).map((s) => s.replace(/\p{Surrogate}/gu, '\uFFFD')),
  fc.string({ unit: fc.constantFrom(...'&<>"\'=;#?/\\%+ \t\r\n\0`'.split(''), 'a', '%0d%0a', '&amp;', '</script>', '<!--', ']]>', '\u2028', '\uFEFF'), maxLength }),
)

/** Parameter names as servers send them (never empty). */
export const parameterName = fc.oneof(
  fc.constantFrom('code', 'state', 'id_token', 'access_token', 'token_type', 'expires_in', 'session_state', 'error', 'error_description', 'error_uri', 'scope', 'x'),
  fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,15}$/),
  anyText(12).filter((s) => s !== ''),
)
