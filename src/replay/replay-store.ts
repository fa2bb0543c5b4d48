/**
 * One-time use across replicas (RFC 9126 §7.3; RFC 9101 `jti`; RFC 7523 §3 client assertion `jti`):
 * a record of values already used, each kept until it expires anyway. In memory per process by
 * default (src/replay/memory-replay-store.ts); shared through Redis when `replay_store.url` is set
 * (src/replay/redis-replay-store.ts), so two replicas refuse a reuse seen by the other.
 * src/replay/create-replay-store.ts picks one.
 *
 * Plain JARM never needs it: only request objects with a `jti`, client assertions and the
 * gateway's own pushed request_uris use it.
 */

/** What kind of value is used once: the namespaces never share a key. */
export type ReplayKind = 'request_uri' | 'request_object_jti' | 'client_assertion_jti'

/**
 * For readiness checks (a short word, never an address): `ok`, or why the store cannot answer.
 * `connecting` before a shared store's first connection, `unreachable` while it is down,
 * `authentication_failed` while it refuses the URL's credentials.
 */
export type ReplayStoreStatus = 'ok' | 'connecting' | 'unreachable' | 'authentication_failed'

export interface ReplayStore {
  /**
   * Records `id` (of `kind`, for `clientId`) as used until `expiresAtSeconds` (seconds since the
   * epoch, fractions allowed) and says whether this was its first use. Atomic across every
   * replica sharing the store.
   *
   * `expiresAtSeconds` is the last instant the caller would still accept the value (its `exp`
   * plus any clock tolerance the caller grants): the record must outlive every acceptance. An
   * instant already past answers `replayed` without recording anything: the caller checks expiry
   * first, so this only happens through a bug or a clock jump, and failing closed is the safe answer.
   *
   * Throws GatewayError `replay_store_unavailable` when the store cannot answer: the caller fails
   * closed, it never treats an unknown answer as fresh.
   */
  useOnce (kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number): Promise<'fresh' | 'replayed'>
  /** For readiness: false while a shared store is unreachable (`status` says why). */
  readonly healthy: boolean
  readonly status: ReplayStoreStatus
  close (): Promise<void>
}
