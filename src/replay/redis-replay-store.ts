/**
 * The replay store shared by every replica: one Redis, one atomic `SET key 1 NX PX <ms>` per use
 * (OK: first use; nil: the key is there, a reuse). The only module that imports ioredis.
 *
 * It fails closed and never waits: the client has no offline queue (a command while disconnected
 * is refused at once, never held until a reconnect), every command has a timeout, a connection
 * that stops answering while commands wait is destroyed, and a command lost with its connection is
 * refused rather than sent again. Reconnection goes on in the background with a capped backoff,
 * so the store recovers by itself; meanwhile every use throws `replay_store_unavailable` and
 * `healthy` is false (readiness). Connection changes are logged once per outage (warn) and on
 * recovery (info), with the URL's password masked.
 *
 * The lifetime is relative (`PX`, from the gateway's clock), not an absolute `PXAT`: Redis then
 * keeps a record at least as long as the gateway would accept its value whatever Redis's own clock
 * says, where an absolute instant read by a Redis clock running ahead would free it early.
 */
import type { ConnectionOptions } from 'node:tls'
import { Redis } from 'ioredis'
import { GatewayError } from '../errors.js'
import { remainingLifetimeMs, replayKey } from './replay-key.js'
import type { ReplayKind, ReplayStore, ReplayStoreStatus } from './replay-store.js'

/** A use waits this long for Redis at most: a login step can afford a second, never a hang. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000
/** Every key begins with this, so the gateway's records are easy to find and to give an ACL. */
export const DEFAULT_KEY_PREFIX = 'jarm-gateway:used:'
/** A connection (TCP, TLS, handshake) that takes longer is abandoned and tried again. */
const CONNECT_TIMEOUT_MS = 5000
/** Reconnection backoff: the first retry after this, doubling up to the cap, plus jitter so replicas spread out. */
const RECONNECT_FIRST_DELAY_MS = 50
const RECONNECT_MAX_DELAY_MS = 2000
const RECONNECT_JITTER_MS = 100

/** What the store logs connection changes to (a pino Logger is one). */
export interface ConnectionLogger {
  info (fields: Record<string, unknown>, message: string): void
  warn (fields: Record<string, unknown>, message: string): void
}

export interface RedisReplayStoreOptions {
  /** `redis://` or `rediss://` (TLS), with optional `user:password@` and `/db`. */
  readonly url: string
  readonly commandTimeoutMs?: number
  readonly keyPrefix?: string
  /** For `rediss://`: a private CA (`ca`), a client certificate, a server name. */
  readonly tls?: ConnectionOptions
  /** Where connection changes are logged. */
  readonly logger?: ConnectionLogger
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number
}

/** What ioredis needs from the URL: everything explicit, so a query string can never set a client option. */
export interface RedisConnection {
  readonly host: string
  readonly port: number
  readonly username: string | undefined
  readonly password: string | undefined
  readonly db: number
  readonly tls: boolean
}

/** The URL read strictly (scheme, host, port, credentials, database; nothing else); throws naming what is wrong, never the password. */
export function parseRedisUrl (url: string): RedisConnection {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError('replay_store.url must be a redis:// or rediss:// URL')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new TypeError('replay_store.url must be a redis:// or rediss:// URL')
  if (parsed.hostname === '') throw new TypeError('replay_store.url must name a host')
  if (parsed.search !== '' || parsed.hash !== '') throw new TypeError('replay_store.url must not have a query or a fragment')
  const db = /^\/?$/.test(parsed.pathname) ? 0 : /^\/\d{1,4}$/.test(parsed.pathname) ? Number(parsed.pathname.slice(1)) : undefined
  if (db === undefined) throw new TypeError('replay_store.url path must be a database number (/0)')
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    username: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    db,
    tls: parsed.protocol === 'rediss:',
  }
}

/** The URL as logs may show it: the password replaced by `***`. */
export function redactedRedisUrl (url: string): string {
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = '***'
  return parsed.href
}

/** Redis refusing the URL's credentials (WRONGPASS, NOAUTH, or a user that is off). */
function isAuthenticationError (error: Error): boolean {
  return /WRONGPASS|NOAUTH|invalid username-password|user is disabled/i.test(error.message)
}

/** ioredis's ways of saying no answer came in time: its command timeout, or the socket timeout's close. */
function isTimeout (error: Error): boolean {
  return /Command timed out|Socket timeout/.test(error.message)
}

export class RedisReplayStore implements ReplayStore {
  readonly #client: Redis
  readonly #keyPrefix: string
  readonly #commandTimeoutMs: number
  readonly #logger: ConnectionLogger | undefined
  readonly #now: () => number
  readonly #where: string
  #status: ReplayStoreStatus = 'connecting'
  /** A warning was logged for the outage going on: the next one waits for a recovery. */
  #inOutage = false
  #lastError: Error | undefined
  #closed = false

  constructor (options: RedisReplayStoreOptions) {
    const connection = parseRedisUrl(options.url)
    this.#where = redactedRedisUrl(options.url)
    this.#keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
    this.#logger = options.logger
    this.#now = options.now ?? Date.now
    this.#client = new Redis({
      host: connection.host,
      port: connection.port,
      username: connection.username,
      password: connection.password,
      db: connection.db,
      ...(connection.tls ? { tls: { ...options.tls } } : {}),
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: this.#commandTimeoutMs,
      socketTimeout: this.#commandTimeoutMs,
      enableOfflineQueue: false,
      // Commands lost with a connection are refused at once, never sent again: a SET NX sent twice
      // could answer `replayed` to its own first use.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // No INFO before the first command, so a least-privilege ACL user (`+set` on the prefix) is
      // enough; a Redis still loading its data answers LOADING, which fails closed like any error.
      enableReadyCheck: false,
      retryStrategy: (attempt) => Math.min(RECONNECT_FIRST_DELAY_MS * 2 ** (attempt - 1), RECONNECT_MAX_DELAY_MS) + Math.floor(Math.random() * RECONNECT_JITTER_MS),
      disableClientInfo: true,
    })
    this.#client.on('ready', () => { this.#lastError = undefined; this.#changed('ok') })
    // An error on a ready connection (a reset, the socket timeout) is followed by its close, which
    // reports it; one while connecting is the reason the attempt failed.
    this.#client.on('error', (error: Error) => {
      this.#lastError = error
      if (this.#client.status !== 'ready') this.#changed(isAuthenticationError(error) ? 'authentication_failed' : 'unreachable', error)
    })
    // A close after an authentication failure keeps that reason; any other close is an outage.
    this.#client.on('close', () => { if (this.#status !== 'authentication_failed') this.#changed('unreachable', this.#lastError) })
  }

  get healthy (): boolean {
    return this.#status === 'ok'
  }

  get status (): ReplayStoreStatus {
    return this.#status
  }

  async useOnce (kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number): Promise<'fresh' | 'replayed'> {
    const lifetimeMs = remainingLifetimeMs(expiresAtSeconds, this.#now())
    if (lifetimeMs === 0) return 'replayed'
    if (this.#closed) throw new GatewayError('replay_store_unavailable', 'the replay store is closed')
    if (this.#status !== 'ok') throw this.#unavailable()
    let answer: string | null
    try {
      answer = await this.#client.set(this.#keyPrefix + replayKey(kind, clientId, id), '1', 'PX', lifetimeMs, 'NX')
    } catch (error) {
      throw this.#unavailable(error as Error)
    }
    return answer === 'OK' ? 'fresh' : 'replayed'
  }

  /** Sends QUIT after the commands in flight (their answers still arrive), then stops reconnecting for good. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // A QUIT that fails (the connection went meanwhile) changes nothing: disconnect() ends it all.
    if (this.#client.status === 'ready') await Promise.allSettled([this.#client.quit()])
    this.#client.disconnect()
  }

  /** The error a use throws: why, in a sentence without the URL (it may reach an error page). */
  #unavailable (error?: Error): GatewayError {
    let message = 'the replay store cannot be reached'
    if (error === undefined) {
      if (this.#status === 'authentication_failed') message = 'the replay store refuses the credentials of replay_store.url'
    } else if (isTimeout(error)) {
      message = `the replay store did not answer within ${this.#commandTimeoutMs} ms`
    } else if (error.name === 'ReplyError') {
      // Redis answered with an error (OOM, READONLY, NOPERM, LOADING...): its first word says which.
      message = `the replay store refused the command (${error.message.split(' ')[0]})`
    }
    return new GatewayError('replay_store_unavailable', message, { cause: error })
  }

  #changed (status: ReplayStoreStatus, error?: Error): void {
    if (this.#closed) return
    this.#status = status
    if (status === 'ok') {
      if (this.#inOutage) this.#logger?.info({ event: 'replay_store.recovered', store: this.#where }, 'the replay store is reachable again')
      else this.#logger?.info({ event: 'replay_store.connected', store: this.#where }, 'connected to the replay store')
      this.#inOutage = false
    } else if (!this.#inOutage) {
      this.#inOutage = true
      this.#logger?.warn({ event: 'replay_store.unavailable', store: this.#where, reason: status, cause: error?.message }, 'the replay store cannot be reached: one-time values are refused until it is back')
    }
  }
}
