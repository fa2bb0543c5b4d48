/**
 * The replay store a gateway uses: the shared Redis one when a URL is configured
 * (`replay_store.url`), else the per-process one. The one place that chooses, so the pipeline
 * only ever sees a ReplayStore.
 */
import type { ConnectionOptions } from 'node:tls'
import { MemoryReplayStore } from './memory-replay-store.js'
import { RedisReplayStore, type ConnectionLogger } from './redis-replay-store.js'
import type { ReplayStore } from './replay-store.js'

export interface ReplayStoreOptions {
  /** `redis://` or `rediss://`; without it, the store lives in this process's memory. */
  readonly url?: string
  /** Redis only: how long a use waits for an answer. */
  readonly commandTimeoutMs?: number
  /** Redis only: the prefix of every key. */
  readonly keyPrefix?: string
  /** Redis only, for `rediss://`: a private CA, a client certificate. */
  readonly tls?: ConnectionOptions
  /** Memory only: how many values it holds at most. */
  readonly maxEntries?: number
  /** Redis only: where connection changes are logged (the gateway's pino logger). */
  readonly logger?: ConnectionLogger
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number
}

export function createReplayStore (options: ReplayStoreOptions = {}): ReplayStore {
  const { url, commandTimeoutMs, keyPrefix, tls, maxEntries, logger, now } = options
  if (url === undefined) return new MemoryReplayStore({ maxEntries, now })
  return new RedisReplayStore({ url, commandTimeoutMs, keyPrefix, tls, logger, now })
}
