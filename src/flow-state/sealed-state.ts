/**
 * What the gateway must remember between the authorization request and the legacy server's answer,
 * carried inside the flow itself: the `state` sent to the legacy server is this record, sealed with
 * AES-256-GCM. Any replica holding the same secret can finish a flow another one started, and no
 * store is needed. The client's own `state` travels inside, byte for byte, and comes back out.
 *
 * Wire format: `jg1.` + base64url(keyId[4] | iv[12] | ciphertext | tag[16]); the prefix lets the
 * capture step recognise its own flows cheaply, the key id picks the secret during rotation.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, hkdfSync, randomFillSync, type KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { ConcreteJarmMode } from '../authorization-request/response-mode.js'

export const SEALED_STATE_PREFIX = 'jg1.'
const KEY_ID_BYTES = 4
const IV_BYTES = 12
const TAG_BYTES = 16
const HKDF_SALT = 'jarm-gateway flow state'
const HKDF_INFO = 'v1 A256GCM'

/** The flow as the gateway needs it when the legacy server answers. */
export interface Flow {
  readonly mode: ConcreteJarmMode
  readonly clientId: string
  /** The redirect_uri the client sent: the only place a response for this flow may go. */
  readonly redirectUri: string
  readonly responseType: string
  /** The client's own state, absent when it sent none. */
  readonly state?: string | undefined
  /**
   * Sealed at the PAR endpoint, a back-channel call: no browser took part, so the flow cannot be
   * bound to one by a cookie (src/flow-state/browser-binding.ts; SECURITY.md).
   */
  readonly pushed?: boolean | undefined
  /**
   * The issuer whose endpoint started the flow: its answer is captured only on that issuer's paths
   * and its `iss` is that issuer. Absent in flows sealed before the gateway fronted several issuers
   * (and in the one-issuer shorthand, where there is only one): they belong to the default issuer.
   */
  readonly issuer?: string | undefined
}

interface SealedPayload {
  m: ConcreteJarmMode
  c: string
  r: string
  t: string
  s?: string
  /** pushed: sealed at the PAR endpoint */
  p?: 1
  /** issuer */
  i?: string
  /** expiry, seconds since the epoch */
  x: number
}

/** The key as a KeyObject: made once, it saves re-reading the raw bytes on every cipher. */
interface SealingKey { id: Buffer, key: KeyObject }

/**
 * IVs come from a pool of CSPRNG bytes refilled 4 KiB at a time, as randomUUID does: a call into
 * the CSPRNG per flow costs more than the AES-GCM encryption itself. Each IV is copied out and its
 * bytes are never handed out twice.
 */
const IV_POOL_BYTES = 4096
const ivPool = Buffer.alloc(IV_POOL_BYTES)
let ivPoolOffset = IV_POOL_BYTES

function nextIv (): Buffer {
  if (ivPoolOffset + IV_BYTES > IV_POOL_BYTES) {
    randomFillSync(ivPool)
    ivPoolOffset = 0
  }
  const iv = Buffer.from(ivPool.subarray(ivPoolOffset, ivPoolOffset + IV_BYTES))
  ivPoolOffset += IV_BYTES
  return iv
}

function deriveKey (secret: string): SealingKey {
  const key = Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32))
  return { id: createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES), key: createSecretKey(key) }
}

export function isSealedState (value: string | null | undefined): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_STATE_PREFIX)
}

export class FlowStateSealer {
  readonly #keys: SealingKey[]
  readonly #ttlSeconds: number
  readonly #now: () => number

  /**
   * @param secrets the first seals; all of them open, so a secret can be rotated without breaking
   *   flows in progress.
   * @param now milliseconds since the epoch (injectable for expiry tests)
   */
  constructor (secrets: readonly string[], ttlSeconds: number, now: () => number = Date.now) {
    this.#keys = secrets.map(deriveKey)
    this.#ttlSeconds = ttlSeconds
    this.#now = now
  }

  seal (flow: Flow): string {
    const payload: SealedPayload = {
      m: flow.mode,
      c: flow.clientId,
      r: flow.redirectUri,
      t: flow.responseType,
      x: Math.floor(this.#now() / 1000) + this.#ttlSeconds,
    }
    if (flow.state !== undefined) payload.s = flow.state
    if (flow.pushed === true) payload.p = 1
    if (flow.issuer !== undefined) payload.i = flow.issuer
    const { id, key } = this.#keys[0]!
    const iv = nextIv()
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    cipher.setAAD(id)
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()])
    return SEALED_STATE_PREFIX + Buffer.concat([id, iv, ciphertext, cipher.getAuthTag()]).toString('base64url')
  }

  /** The flow, or `flow_state_invalid` / `flow_state_expired`. Never returns a flow that failed to authenticate. */
  open (sealed: string): Flow {
    const encoded = sealed.slice(SEALED_STATE_PREFIX.length)
    const raw = Buffer.from(encoded, 'base64url')
    // Node's base64 decoder skips characters outside the alphabet and ignores unused trailing bits,
    // so several strings decode to one envelope: only the one canonical spelling is accepted, and a
    // sealed state changed in any way is refused even where the bytes would have survived.
    if (!sealed.startsWith(SEALED_STATE_PREFIX) || raw.length < KEY_ID_BYTES + IV_BYTES + TAG_BYTES + 2 || raw.toString('base64url') !== encoded) {
      throw new GatewayError('flow_state_invalid', 'the sealed state is malformed')
    }
    const keyId = raw.subarray(0, KEY_ID_BYTES)
    const sealingKey = this.#keys.find(({ id }) => id.equals(keyId))
    if (sealingKey === undefined) {
      throw new GatewayError('flow_state_invalid', 'the sealed state was sealed with an unknown secret')
    }
    const iv = raw.subarray(KEY_ID_BYTES, KEY_ID_BYTES + IV_BYTES)
    const tag = raw.subarray(raw.length - TAG_BYTES)
    const ciphertext = raw.subarray(KEY_ID_BYTES + IV_BYTES, raw.length - TAG_BYTES)
    let payload: SealedPayload
    try {
      const decipher = createDecipheriv('aes-256-gcm', sealingKey.key, iv)
      decipher.setAAD(keyId)
      decipher.setAuthTag(tag)
      payload = JSON.parse(Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8')) as SealedPayload
    } catch (cause) {
      throw new GatewayError('flow_state_invalid', 'the sealed state failed authentication', { cause })
    }
    if (payload.x <= Math.floor(this.#now() / 1000)) {
      throw new GatewayError('flow_state_expired', 'the sign-in flow took longer than allowed; start again from the application')
    }
    const flow: { -readonly [K in keyof Flow]: Flow[K] } = { mode: payload.m, clientId: payload.c, redirectUri: payload.r, responseType: payload.t, state: payload.s }
    if (payload.p === 1) flow.pushed = true
    if (payload.i !== undefined) flow.issuer = payload.i
    return flow
  }
}
