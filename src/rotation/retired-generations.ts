/**
 * What a reload replaces but must not drop at once (rotation without breaking anything):
 * - the public keys of the previous configuration stay published for the lifetime of the responses
 *   they signed (response_ttl_seconds, plus a grace for verifiers' clock tolerance), so a JWT issued
 *   just before the reload still verifies after it;
 * - the previous state secrets still open the flows sealed with them, for state.ttl_seconds, so a
 *   user who started signing in before the reload finishes after it.
 * Pure apart from the clock it is handed.
 */
import type { JWK } from 'jose'
import type { Flow, FlowStateSealer } from '../flow-state/sealed-state.js'

/** oauth4webapi allows 30 s of clock tolerance, the OpenID conformance suite warns at 10 min; keep keys a minute past expiry. */
export const RETIRED_KEY_GRACE_MS = 60_000

/** Values kept until a deadline, then forgotten. */
export class Retired<T> {
  readonly #entries: Array<{ readonly value: T, readonly until: number }> = []
  readonly #now: () => number

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  retire (value: T, forMs: number): void {
    this.#entries.push({ value, until: this.#now() + forMs })
  }

  /** The values whose deadline has not passed, newest first; expired ones are dropped. */
  current (): T[] {
    const now = this.#now()
    for (let i = this.#entries.length - 1; i >= 0; i--) if (this.#entries[i]!.until <= now) this.#entries.splice(i, 1)
    return this.#entries.map((entry) => entry.value).reverse()
  }
}

/** The keys to publish: the current ones, then every retired one that is not current, each kid once. */
export function publishedKeys (current: ReadonlyArray<Readonly<JWK>>, retired: ReadonlyArray<ReadonlyArray<Readonly<JWK>>>): Array<Readonly<JWK>> {
  const kids = new Set(current.map((key) => key.kid))
  const keys = [...current]
  for (const key of retired.flat()) {
    if (kids.has(key.kid)) continue
    kids.add(key.kid)
    keys.push(key)
  }
  return keys
}

/**
 * Opens a sealed state with the current sealer, or else with a retired one. Only "cannot open"
 * (flow_state_invalid) falls through to the retired sealers; an expired flow stays expired.
 */
export function openFlow (sealed: string, current: FlowStateSealer, retired: readonly FlowStateSealer[]): Flow {
  try {
    return current.open(sealed)
  } catch (error) {
    if ((error as { code?: string }).code !== 'flow_state_invalid') throw error
    for (const sealer of retired) {
      try {
        return sealer.open(sealed)
      } catch (retiredError) {
        if ((retiredError as { code?: string }).code === 'flow_state_expired') throw retiredError
      }
    }
    throw error
  }
}
