/**
 * The `request_uri` the gateway's own PAR endpoint hands out (RFC 9126 §2.2) when the legacy server
 * has none: the pushed parameters travel inside it, sealed with AES-256-GCM, so no replica stores
 * anything and any replica holding the secret opens it. Inside: the client it was pushed by, its
 * expiry, 128 random bits (the id one-time use is recorded under) and the parameters, in order.
 * RFC 9126 asks exactly this of a handle that carries its own data: part of it from a strong random
 * source, bound to the client, expiring (FAPI-NOTES.md). Sealed, the parameters stay out of the
 * browser as PAR intends.
 *
 * Wire format: `urn:ietf:params:oauth:request_uri:` + `jgp1.` + base64url(keyId[4] | iv[12] |
 * ciphertext | tag[16]), as src/flow-state/sealed-state.ts seals a flow but with keys derived under
 * another HKDF salt and info, and the marker in the AAD: a sealed state never opens as a request_uri,
 * nor a request_uri as a state.
 *
 * Not compressed. Measured (plain JSON → deflate-raw, as request_uri characters): a FAPI 2.0 PAR
 * 605 → 461, with authorization_details 981 → 675, a PS256 `request` object (FAPI 2.0 Message
 * Signing) 1913 → 1381, at ~60 µs of deflate each. The plain sizes already fit an 8 KiB request line
 * with room, and compressing before encrypting makes the length of the request_uri, which the browser
 * and everything on its path see, depend on what the parameters hold (the CRIME/BREACH side channel)
 * for the very parameters PAR keeps out of the browser. The bound is on the finished request_uri.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { ReplayStore } from '../replay/replay-store.js'
import { PUSHED_REQUEST_URI_PREFIX } from '../authorization-request/request-object.js'

/** Says the rest is the gateway's sealed request, format 1. */
export const SEALED_REQUEST_MARKER = 'jgp1.'
/**
 * The longest request_uri handed out, in characters: URL-encoded in the authorization request
 * (`:` as `%3A`) it still fits a request line of 8 KiB (nginx's default `large_client_header_buffers`)
 * beside the rest of the URL.
 */
export const MAX_PUSHED_REQUEST_URI_CHARS = 6144
/** FAPI 2.0 Security Profile §5.3.2.2: `expires_in` under 600 s; RFC 9126 §2.2 names 5 to 600 as typical. */
export const MAX_PUSHED_REQUEST_TTL_S = 600
const KEY_ID_BYTES = 4
const IV_BYTES = 12
const TAG_BYTES = 16
/** 128 bits: RFC 9126 §7.1 asks for enough entropy that the handle cannot be guessed; FAPI 2.0 §5.4 says 128. */
const ID_BYTES = 16
const HKDF_SALT = 'jarm-gateway pushed request_uri'
const HKDF_INFO = 'v1 A256GCM request_uri'
const WIRE_PREFIX = PUSHED_REQUEST_URI_PREFIX + SEALED_REQUEST_MARKER
const AAD_MARKER = Buffer.from(SEALED_REQUEST_MARKER)

export type PushedParameters = ReadonlyArray<readonly [name: string, value: string]>

export interface SealedPushedRequest {
  /** The value to answer as `request_uri`. */
  readonly requestUri: string
  /** Seconds, to answer as `expires_in`. */
  readonly expiresIn: number
  /** Seconds since the epoch. */
  readonly expiresAt: number
}

export interface OpenedPushedRequest {
  /** As pushed: order, repeats and empty values kept. */
  readonly parameters: PushedParameters
  /** The 128 random bits, base64url: the key one-time use is recorded under. */
  readonly id: string
  /** Seconds since the epoch: how long the one-time record must be kept. */
  readonly expiresAt: number
  /** It was pushed as a verified request object. */
  readonly signed: boolean
}

/** What a pushed request is bound to beyond its client. */
export interface PushedRequestContext {
  /** The issuer whose PAR endpoint took it: a client_id is unique within one issuer only. */
  readonly issuer?: string | undefined
  /** It was pushed as a verified request object (require_signed_request_object holds for it). */
  readonly signed?: boolean | undefined
}

interface SealedPayload {
  /** client_id */
  c: string
  /** expiry, seconds since the epoch */
  x: number
  /** id */
  i: string
  /** parameters */
  p: Array<[string, string]>
  /** issuer */
  a?: string
  /** signed: pushed as a verified request object */
  s?: 1
}

interface SealingKey { id: Buffer, key: Buffer }

function deriveKey (secret: string): SealingKey {
  const key = Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32))
  return { id: createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES), key }
}

function unusable (message: string, cause?: unknown): GatewayError {
  return new GatewayError('invalid_request_uri', message, cause === undefined ? undefined : { cause })
}

export class PushedRequestSealer {
  readonly #keys: SealingKey[]
  readonly #now: () => number

  /**
   * @param secrets the first seals; all of them open, so a secret can be rotated while pushed requests
   *   are in flight (they live ten minutes at most).
   * @param now milliseconds since the epoch (injectable for expiry tests)
   */
  constructor (secrets: readonly string[], now: () => number = Date.now) {
    if (secrets.length === 0) throw new Error('PushedRequestSealer needs at least one secret')
    this.#keys = secrets.map(deriveKey)
    this.#now = now
  }

  /**
   * Seals what `clientId` pushed. Throws `request_body_too_large` when the request_uri would exceed
   * MAX_PUSHED_REQUEST_URI_CHARS, and a plain Error for a ttl outside 1..600 (a programming error).
   */
  seal (clientId: string, parameters: PushedParameters, ttlSeconds: number, context: PushedRequestContext = {}): SealedPushedRequest {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_PUSHED_REQUEST_TTL_S) {
      throw new Error(`the pushed request ttl must be a whole number of seconds from 1 to ${MAX_PUSHED_REQUEST_TTL_S}, not ${ttlSeconds}`)
    }
    const expiresAt = Math.floor(this.#now() / 1000) + ttlSeconds
    const random = randomBytes(IV_BYTES + ID_BYTES)
    const iv = random.subarray(0, IV_BYTES)
    const payload: SealedPayload = {
      c: clientId,
      x: expiresAt,
      i: random.subarray(IV_BYTES).toString('base64url'),
      p: parameters.map(([name, value]) => [name, value]),
    }
    if (context.issuer !== undefined) payload.a = context.issuer
    if (context.signed === true) payload.s = 1
    const { id, key } = this.#keys[0]!
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    cipher.setAAD(Buffer.concat([AAD_MARKER, id]))
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()])
    const requestUri = WIRE_PREFIX + Buffer.concat([id, iv, ciphertext, cipher.getAuthTag()]).toString('base64url')
    if (requestUri.length > MAX_PUSHED_REQUEST_URI_CHARS) {
      throw new GatewayError('request_body_too_large', `the pushed request is too large: its request_uri would exceed ${MAX_PUSHED_REQUEST_URI_CHARS} characters`)
    }
    return { requestUri, expiresIn: ttlSeconds, expiresAt }
  }

  /**
   * The pushed request, for `clientId` only, or `invalid_request_uri`: not one the gateway handed out,
   * changed, sealed under a secret no longer configured, pushed by another client, or expired. Says
   * nothing of one-time use (consumePushedRequest does).
   */
  open (requestUri: string, clientId: string, issuer?: string): OpenedPushedRequest {
    if (!requestUri.startsWith(WIRE_PREFIX)) throw unusable('the request_uri was not issued by this server')
    const encoded = requestUri.slice(WIRE_PREFIX.length)
    const raw = Buffer.from(encoded, 'base64url')
    // Node's base64 decoder skips characters outside the alphabet and ignores unused trailing bits:
    // only the one canonical spelling is accepted, so any change to the value is refused.
    if (requestUri.length > MAX_PUSHED_REQUEST_URI_CHARS || raw.length < KEY_ID_BYTES + IV_BYTES + TAG_BYTES + 2 || raw.toString('base64url') !== encoded) {
      throw unusable('the request_uri is malformed')
    }
    const keyId = raw.subarray(0, KEY_ID_BYTES)
    const sealingKey = this.#keys.find(({ id }) => id.equals(keyId))
    if (sealingKey === undefined) throw unusable('the request_uri was sealed with an unknown secret')
    let payload: SealedPayload
    try {
      const decipher = createDecipheriv('aes-256-gcm', sealingKey.key, raw.subarray(KEY_ID_BYTES, KEY_ID_BYTES + IV_BYTES))
      decipher.setAAD(Buffer.concat([AAD_MARKER, keyId]))
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
      const plaintext = Buffer.concat([decipher.update(raw.subarray(KEY_ID_BYTES + IV_BYTES, raw.length - TAG_BYTES)), decipher.final()])
      payload = JSON.parse(plaintext.toString('utf8')) as SealedPayload
    } catch (cause) {
      throw unusable('the request_uri failed authentication', cause)
    }
    // Authenticated: the payload is one this code sealed, its shape is not in doubt.
    if (payload.c !== clientId) throw unusable('the request_uri was pushed by another client')
    if (payload.a !== issuer) throw unusable('the request_uri was pushed to another issuer of this server')
    if (payload.x <= Math.floor(this.#now() / 1000)) throw unusable('the request_uri has expired: push the request again')
    return { parameters: payload.p, id: payload.i, expiresAt: payload.x, signed: payload.s === 1 }
  }
}

/**
 * Opens a pushed request and records its use, once across every replica sharing `store`: a second
 * use is `invalid_request_uri` (RFC 9126 §4, §7.3). A store that cannot answer throws its own error
 * (`replay_store_unavailable`): this fails closed, the request is not served.
 */
export async function consumePushedRequest (sealer: PushedRequestSealer, store: ReplayStore, requestUri: string, clientId: string, issuer?: string): Promise<OpenedPushedRequest> {
  const opened = sealer.open(requestUri, clientId, issuer)
  if (await store.useOnce('request_uri', clientId, opened.id, opened.expiresAt) === 'replayed') {
    throw unusable('the request_uri was already used: push the request again')
  }
  return opened
}
