// Properties of the sealed flow state: round trip, integrity against any one-bit change and any
// truncation, expiry, rotation, and binding of client and redirect_uri.
import t from 'tap'
import fc from 'fast-check'
import { isGatewayError } from '../../src/errors.js'
import { FlowStateSealer, isSealedState, SEALED_STATE_PREFIX, type Flow } from '../../src/flow-state/sealed-state.js'
import { anyText, fcOptions, propertyRuns, SEED } from '../helpers/fc-settings.js'

t.comment(`fast-check seed ${SEED} (replay with FC_SEED=${SEED})`)
const runs = propertyRuns(100)
const SECRET = 'a-property-test-secret-that-is-long-enough'
const OTHER = 'another-property-test-secret-that-is-long-enough'

const flowArbitrary: fc.Arbitrary<Flow> = fc.record({
  mode: fc.constantFrom('query.jwt', 'fragment.jwt', 'form_post.jwt') as fc.Arbitrary<Flow['mode']>,
  clientId: anyText().filter((s) => s !== ''),
  redirectUri: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), anyText()),
  responseType: fc.constantFrom('code', 'code id_token', 'id_token token', 'none'),
  state: fc.option(anyText(80), { nil: undefined }),
})

function failsWith (code: string, open: () => unknown): boolean {
  try {
    open()
    return false
  } catch (error) {
    return isGatewayError(error) && error.code === code
  }
}

t.test('seal then open gives back the flow, the client state byte for byte (or absent)', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  fc.assert(fc.property(flowArbitrary, (flow) => {
    const sealed = sealer.seal(flow)
    const opened = sealer.open(sealed)
    return isSealedState(sealed) && /^jg1\.[A-Za-z0-9_-]+$/.test(sealed) &&
      opened.mode === flow.mode && opened.clientId === flow.clientId && opened.redirectUri === flow.redirectUri &&
      opened.responseType === flow.responseType && opened.state === flow.state && ('state' in opened ? true : flow.state === undefined)
  }), fcOptions(runs))
  // Two seals of one flow never look alike (a fresh IV each time), so a sealed state says nothing.
  fc.assert(fc.property(flowArbitrary, (flow) => sealer.seal(flow) !== sealer.seal(flow)), fcOptions(runs))
  t.pass()
})

t.test('any one-bit change anywhere in a sealed state, or any truncation, fails to open', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  let tried = 0
  fc.assert(fc.property(flowArbitrary, (flow) => {
    const sealed = sealer.seal(flow)
    for (let at = 0; at < sealed.length; at++) {
      for (let bit = 0; bit < 7; bit++) {
        const changed = sealed.slice(0, at) + String.fromCharCode(sealed.charCodeAt(at) ^ (1 << bit)) + sealed.slice(at + 1)
        tried++
        if (!failsWith('flow_state_invalid', () => sealer.open(changed))) {
          t.fail(`a change of bit ${bit} of character ${at} (of ${sealed.length}) still opens`)
          return false
        }
      }
    }
    for (let length = 0; length < sealed.length; length++) {
      tried++
      if (!failsWith('flow_state_invalid', () => sealer.open(sealed.slice(0, length)))) return false
    }
    // Anything appended is a change too.
    return failsWith('flow_state_invalid', () => sealer.open(`${sealed}A`)) && failsWith('flow_state_invalid', () => sealer.open(`${sealed}=`))
  }), fcOptions(Math.max(10, Math.floor(runs / 5))))
  t.comment(`${tried} altered sealed states refused`)
  // The bytes themselves: any one-bit change of the decoded envelope fails authentication.
  fc.assert(fc.property(flowArbitrary, fc.nat(), fc.nat(7), (flow, position, bit) => {
    const raw = Buffer.from(sealer.seal(flow).slice(SEALED_STATE_PREFIX.length), 'base64url')
    raw[position % raw.length]! ^= 1 << bit
    return failsWith('flow_state_invalid', () => sealer.open(SEALED_STATE_PREFIX + raw.toString('base64url')))
  }), fcOptions(runs))
})

t.test('any string at all either opens to a flow a sealer made, or is refused with a coded error', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  fc.assert(fc.property(fc.oneof(anyText(200), anyText(200).map((s) => SEALED_STATE_PREFIX + s), fc.base64String().map((s) => SEALED_STATE_PREFIX + s)), (value) => failsWith('flow_state_invalid', () => sealer.open(value))), fcOptions(runs))
  t.pass()
})

t.test('expiry: a flow opens before its deadline and never at or after it', async (t) => {
  fc.assert(fc.property(flowArbitrary, fc.integer({ min: 60, max: 86400 }), fc.integer({ min: -86400 * 2, max: 86400 * 2 }), (flow, ttl, elapsed) => {
    const start = 1_700_000_000_000
    let now = start
    const sealer = new FlowStateSealer([SECRET], ttl, () => now)
    const sealed = sealer.seal(flow)
    now = start + elapsed * 1000
    if (elapsed < ttl) return sealer.open(sealed).clientId === flow.clientId
    return failsWith('flow_state_expired', () => sealer.open(sealed))
  }), fcOptions(runs))
  t.pass()
})

t.test('rotation: the first secret seals, every listed secret opens, an unlisted one never does', async (t) => {
  fc.assert(fc.property(flowArbitrary, (flow) => {
    const old = new FlowStateSealer([OTHER], 600).seal(flow)
    const rotated = new FlowStateSealer([SECRET, OTHER], 600)
    const current = rotated.seal(flow)
    return rotated.open(old).state === flow.state &&
      new FlowStateSealer([SECRET], 600).open(current).state === flow.state &&
      failsWith('flow_state_invalid', () => new FlowStateSealer([SECRET], 600).open(old)) &&
      failsWith('flow_state_invalid', () => new FlowStateSealer([OTHER], 600).open(current))
  }), fcOptions(runs))
  t.pass()
})

t.test('binding: a sealed state can only ever name the client and redirect_uri it was sealed with', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  // Splicing two sealed states (the envelope of one, the ciphertext of another) never opens to a mixed flow.
  fc.assert(fc.property(flowArbitrary, flowArbitrary, fc.nat(), (a, b, cut) => {
    const ra = Buffer.from(sealer.seal(a).slice(SEALED_STATE_PREFIX.length), 'base64url')
    const rb = Buffer.from(sealer.seal(b).slice(SEALED_STATE_PREFIX.length), 'base64url')
    const at = 1 + (cut % (Math.min(ra.length, rb.length) - 1))
    const bytes = Buffer.concat([ra.subarray(0, at), rb.subarray(at)])
    // (Both share the key id, so a cut inside it gives back b itself, which is b's own flow.)
    if (bytes.equals(rb)) return sealer.open(SEALED_STATE_PREFIX + bytes.toString('base64url')).clientId === b.clientId
    return failsWith('flow_state_invalid', () => sealer.open(SEALED_STATE_PREFIX + bytes.toString('base64url')))
  }), fcOptions(runs))
  t.pass()
})
