/**
 * The per-process replay store: enough for one replica, the default when `replay_store.url` is not
 * set. Two replicas with their own memory each accept a value once, so a deployment with several
 * replicas sets a Redis URL (src/replay/redis-replay-store.ts).
 *
 * Bounded by `maxEntries`. When it is full of values not yet expired it refuses new ones
 * (`replay_store_unavailable`) rather than evicting one: a record evicted before its expiry is a
 * value that can be used again, the very replay the store exists to stop, while a refusal is a
 * visible, temporary 503. Only values the caller has already verified (a signed request object or
 * client assertion, a request_uri the gateway issued) are recorded, so filling the store takes a
 * client's own keys; size it above the peak rate times the longest lifetime.
 *
 * Expired records are purged without a timer (nothing to unref, nothing left running after
 * close): a full sweep at most once per `sweepIntervalMs`, on a use, and when the store is full
 * and its earliest expiry has passed. A full store whose records are all live answers without
 * sweeping, so a burst of refusals costs no more than a burst of answers.
 */
import { GatewayError } from '../errors.js'
import { remainingLifetimeMs, replayKey } from './replay-key.js'
import type { ReplayKind, ReplayStore } from './replay-store.js'

/** Records held at most: about 15 MB of keys and numbers, a few minutes of a busy gateway's `jti`s. */
export const DEFAULT_MAX_ENTRIES = 100_000
/** How often, at most, a use sweeps expired records: a sweep of a full store costs a few ms. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000

export interface MemoryReplayStoreOptions {
  readonly maxEntries?: number
  readonly sweepIntervalMs?: number
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number
}

export class MemoryReplayStore implements ReplayStore {
  readonly healthy = true
  readonly status = 'ok'
  /** Record key (src/replay/replay-key.ts) → the instant it expires, in ms since the epoch. */
  readonly #entries = new Map<string, number>()
  readonly #maxEntries: number
  readonly #sweepIntervalMs: number
  readonly #now: () => number
  /** No record expires before this (it may be one already purged: then a sweep finds the next). */
  #earliestExpiryMs = Infinity
  #lastSweepMs: number

  constructor (options: MemoryReplayStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES
    this.#sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS
    this.#now = options.now ?? Date.now
    this.#lastSweepMs = this.#now()
  }

  /** Records held, expired ones not yet purged included. */
  get size (): number {
    return this.#entries.size
  }

  async useOnce (kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number): Promise<'fresh' | 'replayed'> {
    const now = this.#now()
    const lifetimeMs = remainingLifetimeMs(expiresAtSeconds, now)
    if (lifetimeMs === 0) return 'replayed'
    if (now - this.#lastSweepMs >= this.#sweepIntervalMs) this.#sweep(now)
    const key = replayKey(kind, clientId, id)
    const recorded = this.#entries.get(key)
    if (recorded !== undefined && recorded > now) return 'replayed'
    // A record of this key that expired is overwritten in place: it takes no new room.
    if (recorded === undefined && this.#entries.size >= this.#maxEntries) {
      if (now >= this.#earliestExpiryMs) this.#sweep(now)
      if (this.#entries.size >= this.#maxEntries) {
        throw new GatewayError('replay_store_unavailable', `the in-memory replay store is full: ${this.#maxEntries} values not yet expired`)
      }
    }
    const expiresAtMs = now + lifetimeMs
    this.#entries.set(key, expiresAtMs)
    if (expiresAtMs < this.#earliestExpiryMs) this.#earliestExpiryMs = expiresAtMs
    return 'fresh'
  }

  async close (): Promise<void> {
    this.#entries.clear()
    this.#earliestExpiryMs = Infinity
  }

  #sweep (now: number): void {
    let earliest = Infinity
    for (const [key, expiresAtMs] of this.#entries) {
      if (expiresAtMs <= now) this.#entries.delete(key)
      else if (expiresAtMs < earliest) earliest = expiresAtMs
    }
    this.#earliestExpiryMs = earliest
    this.#lastSweepMs = now
  }
}
