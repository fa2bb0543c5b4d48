// What a reload retires: kept until a deadline, published or used to open flows until then.
import t from 'tap'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { openFlow, publishedKeys, Retired } from '../../src/rotation/retired-generations.js'

t.test('retired values last until their deadline, newest first', async (t) => {
  let now = 0
  const retired = new Retired<string>(() => now)
  retired.retire('a', 100)
  now = 10
  retired.retire('b', 50)
  t.same(retired.current(), ['b', 'a'])
  now = 60
  t.same(retired.current(), ['a'])
  now = 110
  t.same(retired.current(), [])
  t.same(new Retired<string>().current(), [])
})

t.test('published keys: current first, each retired kid once, none twice', async (t) => {
  t.same(publishedKeys([{ kid: 'new' }, { kid: 'kept' }], [[{ kid: 'old' }, { kid: 'kept' }], [{ kid: 'old' }, { kid: 'older' }]]).map((key) => key.kid), ['new', 'kept', 'old', 'older'])
})

const flow = { mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://client.example.org/cb', responseType: 'code', state: 's' } as const

t.test('a flow opens with the current sealer or else a retired one; expiry is final', async (t) => {
  let now = 1_000_000
  const clock = (): number => now
  const current = new FlowStateSealer(['the-current-secret-0123456789abcdef0123'], 600, clock)
  const retired = new FlowStateSealer(['the-retired-secret-0123456789abcdef0123'], 600, clock)
  const other = new FlowStateSealer(['an-unrelated-secret-0123456789abcdef012'], 600, clock)
  t.same(openFlow(current.seal(flow), current, [retired]), flow)
  t.same(openFlow(retired.seal(flow), current, [other, retired]), flow, 'the retired secret still opens its flows')
  t.throws(() => openFlow(other.seal(flow), current, [retired]), { code: 'flow_state_invalid', message: 'the sealed state was sealed with an unknown secret' })
  const oldCurrent = current.seal(flow)
  const oldRetired = retired.seal(flow)
  now += 601_000
  t.throws(() => openFlow(oldCurrent, current, [retired]), { code: 'flow_state_expired' })
  t.throws(() => openFlow(oldRetired, current, [retired]), { code: 'flow_state_expired' }, 'not reported as unknown')
})
