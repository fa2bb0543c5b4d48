/**
 * The parts of a request target (`/path?query`, RFC 9112 §3.2) the gateway and its operator
 * endpoints route on. Pure.
 */

/** The path, without the query. */
export function pathOf (target: string): string {
  const queryAt = target.indexOf('?')
  return queryAt === -1 ? target : target.slice(0, queryAt)
}

/** The query, without its `?` (empty when there is none). */
export function queryOf (target: string): string {
  const queryAt = target.indexOf('?')
  return queryAt === -1 ? '' : target.slice(queryAt + 1)
}
