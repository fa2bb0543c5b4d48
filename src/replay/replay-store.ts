/**
 * One-time use across replicas (RFC 9126 §7.3; RFC 9101 `jti`; RFC 7523 §3 client assertion `jti`):
 * a record of values already used, each kept until it expires anyway. In memory per process by
 * default (src/replay/memory-replay-store.ts); shared through Redis when `replay_store.url` is set
 * (src/replay/redis-replay-store.ts), so two replicas refuse a reuse seen by the other.
 *
 * Plain JARM never needs it: only request objects with a `jti`, client assertions and the
 * gateway's own pushed request_uris use it.
 */

/** What kind of value is used once: the namespaces never share a key. */
export type ReplayKind = 'request_uri' | 'request_object_jti' | 'client_assertion_jti'

export interface ReplayStore {
  /**
   * Records `id` (of `kind`, for `clientId`) as used until `expiresAtSeconds` (seconds since the
   * epoch) and says whether this was its first use. Atomic across every replica sharing the store.
   * Throws GatewayError `replay_store_unavailable` when the store cannot answer: the caller fails
   * closed, it never treats an unknown answer as fresh.
   */
  useOnce (kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number): Promise<'fresh' | 'replayed'>
  /** For readiness: false while a shared store is unreachable. */
  readonly healthy: boolean
  close (): Promise<void>
}
