import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { createReplayStore } from '../../src/replay/create-replay-store.js'
import { MemoryReplayStore } from '../../src/replay/memory-replay-store.js'
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_KEY_PREFIX, parseRedisUrl, redactedRedisUrl, RedisReplayStore, type RedisReplayStoreOptions } from '../../src/replay/redis-replay-store.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { checkNamespaces, checkOneFreshOfMany } from '../helpers/replay-store-contract.js'
import { createTestPki } from '../helpers/test-pki.js'

interface LogLine { level: 'info' | 'warn', fields: Record<string, unknown>, message: string }

/** A logger that keeps what it is given, as the store calls pino's. */
function recordingLogger (): { lines: LogLine[], info: (fields: object, message: string) => void, warn: (fields: object, message: string) => void } {
  const lines: LogLine[] = []
  return {
    lines,
    info: (fields, message) => { lines.push({ level: 'info', fields: fields as Record<string, unknown>, message }) },
    warn: (fields, message) => { lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }) },
  }
}

async function waitFor (what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const inSeconds = (seconds: number): number => Date.now() / 1000 + seconds

/** A store connected and ready, closed when the test ends. */
async function connectedStore (t: Test, options: RedisReplayStoreOptions): Promise<RedisReplayStore> {
  const store = new RedisReplayStore(options)
  t.teardown(() => store.close())
  await waitFor('the store to connect', () => store.healthy)
  return store
}

let redis: RedisServer
t.before(async () => { redis = await startRedisServer() })
t.teardown(() => redis.remove())

t.test('the first use is fresh, a reuse replayed; the key is the prefix, the kind and a hash, living as long as the value', async (t) => {
  const logger = recordingLogger()
  const store = await connectedStore(t, { url: redis.url, logger })
  t.equal(store.status, 'ok')
  t.same(logger.lines.map((l) => [l.level, l.fields['event']]), [['info', 'replay_store.connected']])
  await redis.cli('FLUSHALL')
  t.equal(await store.useOnce('request_uri', 'app1', 'urn:ietf:params:oauth:request_uri:abc', inSeconds(60)), 'fresh')
  t.equal(await store.useOnce('request_uri', 'app1', 'urn:ietf:params:oauth:request_uri:abc', inSeconds(60)), 'replayed')
  const keys = await redis.cli('KEYS', '*')
  t.match(keys, /^jarm-gateway:used:request_uri:[0-9a-f]{64}$/, 'one key, no request_uri or client in clear')
  t.equal(DEFAULT_KEY_PREFIX, 'jarm-gateway:used:')
  const ttl = Number(await redis.cli('PTTL', keys))
  t.ok(ttl > 58_000 && ttl <= 60_000, `lives until the value expires (${ttl} ms)`)
})

t.test('kinds, clients and prefixes are namespaces', async (t) => {
  const store = await connectedStore(t, { url: redis.url })
  const other = await connectedStore(t, { url: redis.url, keyPrefix: 'another-gateway:' })
  await redis.cli('FLUSHALL')
  await checkNamespaces(t, store, inSeconds(60))
  t.equal(await other.useOnce('request_object_jti', 'app1', 'ns-1', inSeconds(60)), 'fresh', 'another prefix, another record')
  t.match(await redis.cli('KEYS', 'another-gateway:*'), /^another-gateway:request_object_jti:[0-9a-f]{64}$/)
})

t.test('Redis drops the record at its expiry: replayed until then, fresh after', async (t) => {
  const store = await connectedStore(t, { url: redis.url })
  const exp = inSeconds(1)
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'short-lived', exp), 'fresh')
  await sleep(500)
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'short-lived', exp), 'replayed', 'half-way: still used')
  await sleep(700)
  // Past the expiry the caller refuses the value itself; a later expiry shows Redis forgot it.
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'short-lived', inSeconds(60)), 'fresh', 'Redis expired the key')
})

t.test('an expiry already past is replayed and nothing is written', async (t) => {
  const store = await connectedStore(t, { url: redis.url })
  await redis.cli('FLUSHALL')
  t.equal(await store.useOnce('request_object_jti', 'app1', 'stale', inSeconds(-5)), 'replayed')
  t.equal(await redis.cli('DBSIZE'), '0')
  await t.rejects(store.useOnce('request_object_jti', 'app1', 'x', Number.NaN), TypeError)
})

t.test('two stores (two replicas) refuse each other\'s reuse; 100 parallel uses through both: exactly one fresh', async (t) => {
  const replicaA = await connectedStore(t, { url: redis.url })
  const replicaB = await connectedStore(t, { url: redis.url })
  const exp = inSeconds(60)
  t.equal(await replicaA.useOnce('request_uri', 'app1', 'urn:shared', exp), 'fresh')
  t.equal(await replicaB.useOnce('request_uri', 'app1', 'urn:shared', exp), 'replayed', 'seen by the other replica')
  t.equal(await replicaB.useOnce('request_uri', 'app1', 'urn:other', exp), 'fresh')
  t.equal(await replicaA.useOnce('request_uri', 'app1', 'urn:other', exp), 'replayed')
  await checkOneFreshOfMany(t, [replicaA, replicaB], exp)
})

t.test('Redis stopped: uses are refused at once and healthy goes false, one warning; restarted: it recovers by itself', async (t) => {
  const password = 'outage-password-7f3a'
  const server = await startRedisServer({ password })
  t.teardown(() => server.remove())
  const logger = recordingLogger()
  const url = `redis://:${password}@127.0.0.1:${server.port}/0`
  const store = await connectedStore(t, { url, logger, commandTimeoutMs: 500 })
  t.equal(await store.useOnce('request_uri', 'app1', 'before', inSeconds(60)), 'fresh')
  await server.stop()
  await waitFor('the store to notice', () => !store.healthy)
  t.equal(store.status, 'unreachable')
  for (let i = 0; i < 3; i++) {
    const started = Date.now()
    await t.rejects(store.useOnce('request_uri', 'app1', `during-${i}`, inSeconds(60)), { code: 'replay_store_unavailable', status: 503, oauthError: 'temporarily_unavailable', message: 'the replay store cannot be reached' })
    t.ok(Date.now() - started < 500, 'refused within the command timeout, never queued')
  }
  await sleep(300) // several reconnection attempts fail meanwhile
  const warnings = logger.lines.filter((l) => l.level === 'warn')
  t.equal(warnings.length, 1, 'one warning per outage, whatever the failed attempts')
  t.match(warnings[0]!.fields, { event: 'replay_store.unavailable', reason: 'unreachable', store: `redis://:***@127.0.0.1:${server.port}/0` })
  await server.start()
  await waitFor('the store to reconnect', () => store.healthy, 5000)
  t.equal(await store.useOnce('request_uri', 'app1', 'after', inSeconds(60)), 'fresh')
  t.same(logger.lines.map((l) => l.fields['event']), ['replay_store.connected', 'replay_store.unavailable', 'replay_store.recovered'])
  t.notMatch(JSON.stringify(logger.lines), password, 'the password is never logged')
})

t.test('a Redis that stops answering: the use fails after the command timeout, and the store reconnects', async (t) => {
  const logger = recordingLogger()
  const store = await connectedStore(t, { url: redis.url, logger, commandTimeoutMs: 300 })
  t.equal(await store.useOnce('request_uri', 'app1', 'unpaused', inSeconds(60)), 'fresh')
  // Writes are held by Redis for 1.5 s: SET waits, INFO, HELLO and PING still answer.
  await redis.cli('CLIENT', 'PAUSE', '1500', 'WRITE')
  const started = Date.now()
  await t.rejects(store.useOnce('request_uri', 'app1', 'paused', inSeconds(60)), { code: 'replay_store_unavailable', message: 'the replay store did not answer within 300 ms' })
  const waited = Date.now() - started
  t.ok(waited >= 290 && waited < 1000, `failed after the timeout (${waited} ms)`)
  await waitFor('the silent connection to be dropped', () => logger.lines.some((l) => l.level === 'warn'), 1000)
  t.match(logger.lines.find((l) => l.level === 'warn')?.fields, { reason: 'unreachable', cause: /Socket timeout/ }, 'the silent connection was dropped, and said so')
  await sleep(1400)
  await waitFor('the store to reconnect', () => store.healthy)
  t.equal(await store.useOnce('request_uri', 'app1', 'unpaused-again', inSeconds(60)), 'fresh')
})

t.test('a connection lost while a use waits: that use is refused, never sent again', async (t) => {
  const store = await connectedStore(t, { url: redis.url, commandTimeoutMs: 3000 })
  await redis.cli('CLIENT', 'PAUSE', '1000', 'WRITE')
  const use = store.useOnce('request_object_jti', 'app1', 'cut-off', inSeconds(60)).then(() => 'answered', (error: unknown) => error)
  await sleep(100)
  await redis.cli('CLIENT', 'KILL', 'TYPE', 'normal')
  t.match(await use, { code: 'replay_store_unavailable', message: 'the replay store cannot be reached' })
  await sleep(1000)
  await waitFor('the store to reconnect', () => store.healthy)
  t.equal(await store.useOnce('request_object_jti', 'app1', 'cut-off', inSeconds(60)), 'fresh', 'the lost SET was not resent behind the caller\'s back')
})

t.test('a wrong password: a clear refusal, authentication_failed for readiness, the password never logged', async (t) => {
  const server = await startRedisServer({ password: 'the-right-one' })
  t.teardown(() => server.remove())
  const logger = recordingLogger()
  const store = new RedisReplayStore({ url: `redis://:not-the-password@127.0.0.1:${server.port}`, logger })
  t.teardown(() => store.close())
  t.equal(store.status, 'connecting')
  t.equal(store.healthy, false)
  await t.rejects(store.useOnce('request_uri', 'app1', 'early', inSeconds(60)), { code: 'replay_store_unavailable', message: 'the replay store cannot be reached' }, 'before the first connection: refused, not queued')
  await waitFor('the refusal', () => store.status === 'authentication_failed')
  await t.rejects(store.useOnce('request_uri', 'app1', 'x', inSeconds(60)), { code: 'replay_store_unavailable', message: 'the replay store refuses the credentials of replay_store.url' })
  await sleep(300)
  t.equal(store.status, 'authentication_failed', 'the reconnections keep the reason')
  const warnings = logger.lines.filter((l) => l.level === 'warn')
  t.equal(warnings.length, 1)
  t.match(warnings[0]!.fields, { reason: 'authentication_failed', store: `redis://:***@127.0.0.1:${server.port}`, cause: /WRONGPASS/ })
  t.notMatch(JSON.stringify(logger.lines), 'not-the-password')
})

t.test('a least-privilege ACL user (SET on the prefix only) is enough; outside it, Redis\'s refusal is named', async (t) => {
  const server = await startRedisServer({ users: ['default off', 'gateway on >gateway-pass ~jarm-gateway:used:* +set'] })
  t.teardown(() => server.remove())
  const store = await connectedStore(t, { url: `redis://gateway:gateway-pass@127.0.0.1:${server.port}/0` })
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'acl', inSeconds(60)), 'fresh')
  t.equal(await store.useOnce('client_assertion_jti', 'app1', 'acl', inSeconds(60)), 'replayed')
  const outside = await connectedStore(t, { url: `redis://gateway:gateway-pass@127.0.0.1:${server.port}/0`, keyPrefix: 'elsewhere:' })
  await t.rejects(outside.useOnce('client_assertion_jti', 'app1', 'acl', inSeconds(60)), { code: 'replay_store_unavailable', message: 'the replay store refused the command (NOPERM)' })
  t.equal(outside.healthy, true, 'a refused command is not an outage')
})

t.test('rediss:// speaks TLS, trusting the CA it is given', async (t) => {
  const pki = createTestPki()
  t.teardown(() => pki.remove())
  const ca = pki.authority('Redis CA')
  const leaf = ca.issue('redis.test', { ip: ['127.0.0.1'] })
  const server = await startRedisServer({ tls: { certFile: leaf.certFile, keyFile: leaf.keyFile } })
  t.teardown(() => server.remove())
  t.match(server.url, /^rediss:/)
  const store = await connectedStore(t, { url: server.url, tls: { ca: readFileSync(ca.certFile) } })
  t.equal(await store.useOnce('request_uri', 'app1', 'over-tls', inSeconds(60)), 'fresh')
  t.equal(await server.cli('DBSIZE'), '1')
  const logger = recordingLogger()
  const untrusting = new RedisReplayStore({ url: server.url, logger })
  t.teardown(() => untrusting.close())
  await waitFor('the TLS failure', () => untrusting.status === 'unreachable')
  t.match(logger.lines[0]?.fields, { reason: 'unreachable', cause: /certificate/ })
})

t.test('close: QUIT after the uses in flight, then every use refused; closing twice, or while disconnected, is fine', async (t) => {
  const logger = recordingLogger()
  const store = await connectedStore(t, { url: redis.url, logger })
  const inFlight = store.useOnce('request_uri', 'app1', 'last-one', inSeconds(60))
  await store.close()
  t.equal(await inFlight, 'fresh', 'the use sent before close got its answer')
  await t.rejects(store.useOnce('request_uri', 'app1', 'x', inSeconds(60)), { code: 'replay_store_unavailable', message: 'the replay store is closed' })
  await store.close()
  await sleep(50)
  t.same(logger.lines.map((l) => l.fields['event']), ['replay_store.connected'], 'a close is no outage')
  const server = await startRedisServer()
  await server.remove()
  const neverConnected = new RedisReplayStore({ url: server.url })
  await waitFor('the failed connection', () => neverConnected.status === 'unreachable')
  await neverConnected.close()
  await sleep(300)
  t.equal(neverConnected.status, 'unreachable', 'no reconnection after close')
})

t.test('the URL is read strictly, and shown with its password masked', async (t) => {
  t.same(parseRedisUrl('redis://cache.internal'), { host: 'cache.internal', port: 6379, username: undefined, password: undefined, db: 0, tls: false })
  t.same(parseRedisUrl('rediss://us%40r:p%3Ass@[::1]:6380/3'), { host: '::1', port: 6380, username: 'us@r', password: 'p:ss', db: 3, tls: true })
  t.same(parseRedisUrl('redis://:only-password@h/'), { host: 'h', port: 6379, username: undefined, password: 'only-password', db: 0, tls: false })
  const refusal = (url: string): string => { try { parseRedisUrl(url); return 'accepted' } catch (error) { return (error as Error).message } }
  t.equal(refusal('not a url'), 'replay_store.url must be a redis:// or rediss:// URL')
  t.equal(refusal('http://h:6379'), 'replay_store.url must be a redis:// or rediss:// URL')
  t.equal(refusal('redis://'), 'replay_store.url must name a host')
  t.equal(refusal('redis://h/0?enableOfflineQueue=true'), 'replay_store.url must not have a query or a fragment')
  t.equal(refusal('redis://h/0#x'), 'replay_store.url must not have a query or a fragment')
  t.equal(refusal('redis://u:secret@h/zero'), 'replay_store.url path must be a database number (/0)')
  t.throws(() => new RedisReplayStore({ url: 'redis://u:secret@h/a/b' }), { name: 'TypeError', message: /^(?!.*secret)/ })
  t.equal(redactedRedisUrl('redis://u:secret@h:1/2'), 'redis://u:***@h:1/2')
  t.equal(redactedRedisUrl('redis://h:1'), 'redis://h:1')
  t.equal(DEFAULT_COMMAND_TIMEOUT_MS, 1000)
})

t.test('createReplayStore: memory without a URL, Redis with one', async (t) => {
  const memory = createReplayStore()
  t.ok(memory instanceof MemoryReplayStore)
  t.equal(memory.healthy, true)
  await memory.close()
  const bounded = createReplayStore({ maxEntries: 1 })
  await bounded.useOnce('request_uri', 'app1', 'a', inSeconds(60))
  await t.rejects(bounded.useOnce('request_uri', 'app1', 'b', inSeconds(60)), { code: 'replay_store_unavailable' }, 'the options reach the memory store')
  const shared = createReplayStore({ url: redis.url, keyPrefix: 'created:', commandTimeoutMs: 500 })
  t.teardown(() => shared.close())
  t.ok(shared instanceof RedisReplayStore)
  await waitFor('the store to connect', () => shared.healthy)
  t.equal(await shared.useOnce('request_uri', 'app1', 'created', inSeconds(60)), 'fresh')
  t.match(await redis.cli('KEYS', 'created:*'), /^created:request_uri:/)
})
