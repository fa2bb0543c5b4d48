import t from 'tap'
import { FlowStateSealer, isSealedState, SEALED_STATE_PREFIX, type Flow } from '../../src/flow-state/sealed-state.js'

const SECRET = 'unit-test-secret-unit-test-secret-0123'
const flow: Flow = { mode: 'form_post.jwt', clientId: 'app1', redirectUri: 'https://c.example/cb?x=1', responseType: 'code', state: 'ä state with spaces & symbols' }

t.test('seal then open gives the flow back, the client state byte for byte', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  const sealed = sealer.seal(flow)
  t.ok(sealed.startsWith(SEALED_STATE_PREFIX))
  t.match(sealed, /^[\w.-]+$/, 'URL-safe: travels through any legacy server unencoded')
  t.same(sealer.open(sealed), flow)
  t.not(sealer.seal(flow), sealed, 'a fresh IV every time')
})

t.test('the flow carries its issuer; one sealed without (as before issuers) opens without', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  t.same(sealer.open(sealer.seal({ ...flow, issuer: 'https://id.example.com/realms/a' })), { ...flow, issuer: 'https://id.example.com/realms/a' })
  t.notOk('issuer' in sealer.open(sealer.seal(flow)), 'no issuer: the default issuer\'s (src/issuers/)')
})

t.test('IVs from the pool never repeat, across refills of the pool', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  const ivs = new Set<string>()
  // 4 KiB of pool holds 341 IVs: 1,000 flows refill it twice.
  for (let i = 0; i < 1000; i++) {
    const sealed = sealer.seal(flow)
    const iv = Buffer.from(sealed.slice(SEALED_STATE_PREFIX.length), 'base64url').subarray(4, 16).toString('hex')
    ivs.add(iv)
    if (i % 100 === 0) t.same(sealer.open(sealed), flow)
  }
  t.equal(ivs.size, 1000, 'no IV given twice')
})

t.test('a flow without state opens without state', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  const opened = sealer.open(sealer.seal({ ...flow, state: undefined }))
  t.equal(opened.state, undefined)
  t.notOk(JSON.stringify(opened).includes('state'))
})

t.test('every single-character change fails authentication', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  const sealed = sealer.seal(flow)
  for (let i = SEALED_STATE_PREFIX.length; i < sealed.length; i++) {
    const changed = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1)
    t.throws(() => sealer.open(changed), { code: 'flow_state_invalid' })
  }
})

t.test('malformed, truncated and unknown-secret values are refused with a reason', async (t) => {
  const sealer = new FlowStateSealer([SECRET], 600)
  const sealed = sealer.seal(flow)
  t.throws(() => sealer.open('jg1.'), { code: 'flow_state_invalid', message: 'the sealed state is malformed' })
  t.throws(() => sealer.open('xx1.' + sealed.slice(4)), { code: 'flow_state_invalid', message: 'the sealed state is malformed' })
  t.throws(() => sealer.open(sealed.slice(0, sealed.length - 10)), { code: 'flow_state_invalid' })
  t.throws(() => new FlowStateSealer(['another-secret-another-secret-0123'], 600).open(sealed), { code: 'flow_state_invalid', message: 'the sealed state was sealed with an unknown secret' })
})

t.test('expiry: open until ttl, refused after', async (t) => {
  let now = 1_800_000_000_000
  const sealer = new FlowStateSealer([SECRET], 60, () => now)
  const sealed = sealer.seal(flow)
  now += 59_000
  t.same(sealer.open(sealed), flow)
  now += 1_000
  t.throws(() => sealer.open(sealed), { code: 'flow_state_expired', status: 400 })
})

t.test('rotation: the first secret seals, every listed one opens', async (t) => {
  const old = new FlowStateSealer(['old-secret-old-secret-old-secret-0123'], 600)
  const rotated = new FlowStateSealer(['new-secret-new-secret-new-secret-0123', 'old-secret-old-secret-old-secret-0123'], 600)
  const fromOld = old.seal(flow)
  t.same(rotated.open(fromOld), flow, 'flows sealed before the rotation still finish')
  t.throws(() => old.open(rotated.seal(flow)), { code: 'flow_state_invalid' }, 'the new secret seals')
})

t.test('isSealedState', async (t) => {
  t.ok(isSealedState('jg1.abc'))
  t.notOk(isSealedState('abc'))
  t.notOk(isSealedState(null))
  t.notOk(isSealedState(undefined))
})
