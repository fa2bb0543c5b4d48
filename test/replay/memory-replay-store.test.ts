import t from 'tap'
import { GatewayError } from '../../src/errors.js'
import { DEFAULT_MAX_ENTRIES, MemoryReplayStore } from '../../src/replay/memory-replay-store.js'
import { remainingLifetimeMs, replayKey } from '../../src/replay/replay-key.js'
import { checkNamespaces, checkOneFreshOfMany } from '../helpers/replay-store-contract.js'

/** A clock the test moves, in ms since the epoch. */
function clock (startMs = 1_700_000_000_000): { now: () => number, advance: (ms: number) => void, seconds: (fromNow: number) => number } {
  let current = startMs
  return { now: () => current, advance: (ms) => { current += ms }, seconds: (fromNow) => current / 1000 + fromNow }
}

t.test('the first use is fresh, every later one replayed until the value expires, then fresh again', async (t) => {
  const time = clock()
  const store = new MemoryReplayStore({ now: time.now })
  t.equal(store.healthy, true)
  t.equal(store.status, 'ok')
  t.equal(await store.useOnce('request_uri', 'app1', 'urn:x:1', time.seconds(60)), 'fresh')
  t.equal(await store.useOnce('request_uri', 'app1', 'urn:x:1', time.seconds(60)), 'replayed')
  time.advance(59_999)
  t.equal(await store.useOnce('request_uri', 'app1', 'urn:x:1', time.seconds(60)), 'replayed', 'a millisecond before expiry, still used')
  time.advance(1)
  t.equal(await store.useOnce('request_uri', 'app1', 'urn:x:1', time.seconds(60)), 'fresh', 'at its expiry the record is gone')
  t.equal(store.size, 1, 'the expired record was overwritten, not added beside')
})

t.test('kinds and clients are namespaces: the same id in another never collides', async (t) => {
  const time = clock()
  await checkNamespaces(t, new MemoryReplayStore({ now: time.now }), time.seconds(60))
})

t.test('a record key is the kind and a hash: no value in clear, the same length for any value', async (t) => {
  const long = replayKey('request_uri', 'app1', 'urn:ietf:params:oauth:request_uri:' + 'x'.repeat(5000))
  const short = replayKey('request_uri', 'app1', 'x')
  t.match(long, /^request_uri:[0-9a-f]{64}$/)
  t.equal(long.length, short.length)
  t.notMatch(long, /urn|app1/)
  t.equal(replayKey('request_uri', 'app1', 'x'), short, 'the same pair, the same key')
})

t.test('an expiry already past is replayed without a record; a time that is not finite is a bug', async (t) => {
  const time = clock()
  const store = new MemoryReplayStore({ now: time.now })
  t.equal(await store.useOnce('request_object_jti', 'app1', 'old', time.seconds(-1)), 'replayed')
  t.equal(await store.useOnce('request_object_jti', 'app1', 'now', time.seconds(0)), 'replayed')
  t.equal(store.size, 0)
  await t.rejects(store.useOnce('request_object_jti', 'app1', 'x', Number.NaN), TypeError)
  await t.rejects(store.useOnce('request_object_jti', 'app1', 'x', Number.POSITIVE_INFINITY), { message: /finite/ })
  t.equal(remainingLifetimeMs(1000.0001, 1_000_000), 1, 'a fraction of a millisecond is rounded up: never dies before its instant')
})

t.test('full of live values it refuses new ones (never evicts one); a value it holds is still judged', async (t) => {
  const time = clock()
  const store = new MemoryReplayStore({ maxEntries: 3, now: time.now })
  t.equal(DEFAULT_MAX_ENTRIES, 100_000)
  for (const id of ['a', 'b', 'c']) t.equal(await store.useOnce('client_assertion_jti', 'app1', id, time.seconds(10 + id.charCodeAt(0) - 97)), 'fresh')
  const refused = await store.useOnce('client_assertion_jti', 'app1', 'd', time.seconds(60)).then(() => undefined, (error: unknown) => error)
  t.ok(refused instanceof GatewayError)
  t.match(refused, { code: 'replay_store_unavailable', status: 503, oauthError: 'temporarily_unavailable', redirectable: false, message: 'the in-memory replay store is full: 3 values not yet expired' })
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'a', time.seconds(60)), 'replayed', 'a reuse is still refused as a reuse')
  t.equal(store.size, 3)
  // The earliest (a, 10 s) expires: the next new value sweeps it and takes its room.
  time.advance(10_000)
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'd', time.seconds(60)), 'fresh')
  t.equal(store.size, 3)
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'b', time.seconds(60)), 'replayed', 'b (11 s) is kept: only the expired one went')
  await t.rejects(store.useOnce('client_assertion_jti', 'app1', 'e', time.seconds(60)), { code: 'replay_store_unavailable' })
  time.advance(2000)
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'e', time.seconds(60)), 'fresh', 'b and c expired: room again')
  t.equal(store.size, 2)
})

t.test('expired records are swept at most once per interval, on a use', async (t) => {
  const time = clock()
  const store = new MemoryReplayStore({ sweepIntervalMs: 1000, now: time.now })
  for (let i = 0; i < 10; i++) await store.useOnce('request_uri', 'app1', `v${i}`, time.seconds(0.5))
  await store.useOnce('request_uri', 'app1', 'long', time.seconds(60))
  t.equal(store.size, 11)
  time.advance(600)
  await store.useOnce('request_uri', 'app1', 'w', time.seconds(60))
  t.equal(store.size, 12, 'within the interval: expired records wait')
  time.advance(400)
  await store.useOnce('request_uri', 'app1', 'x', time.seconds(60))
  t.equal(store.size, 3, 'the interval passed: the ten expired records are gone, the live ones stay')
  t.equal(await store.useOnce('request_uri', 'app1', 'long', time.seconds(60)), 'replayed')
  await store.close()
  t.equal(store.size, 0, 'close forgets everything')
})

t.test('100 parallel uses of one value: exactly one is fresh', async (t) => {
  await checkOneFreshOfMany(t, [new MemoryReplayStore()], Date.now() / 1000 + 60)
})
