/**
 * The name a used value is recorded under, the same in every store: its kind, then a SHA-256 of
 * the client and the value. Hashed so a store never holds a request_uri or a `jti` in clear (a
 * Redis dump or MONITOR shows nothing reusable) and every key has the same short length, however
 * long the value the client sent.
 */
import { createHash } from 'node:crypto'
import type { ReplayKind } from './replay-store.js'

/**
 * `<kind>:<hex>`. The client and the value are hashed as a JSON pair, not joined by a separator:
 * a client_id is not checked for NUL here, and "a\0b" + "c" must never name the same record as
 * "a" + "b\0c" (a collision would let one client burn another's values).
 */
export function replayKey (kind: ReplayKind, clientId: string, id: string): string {
  return `${kind}:${createHash('sha256').update(JSON.stringify([clientId, id])).digest('hex')}`
}

/**
 * How long from `nowMs` a record used until `expiresAtSeconds` must live, in whole milliseconds
 * (rounded up, so it never dies before the instant); 0 when that instant is not in the future,
 * which the stores answer `replayed` (see ReplayStore.useOnce). A time that is not a finite number
 * is a bug of the caller, not a value to record forever.
 */
export function remainingLifetimeMs (expiresAtSeconds: number, nowMs: number): number {
  if (!Number.isFinite(expiresAtSeconds)) throw new TypeError('expiresAtSeconds must be a finite number of seconds since the epoch')
  return Math.max(0, Math.ceil(expiresAtSeconds * 1000 - nowMs))
}
