import t from 'tap'
import { FlowStateSealer, SEALED_STATE_PREFIX } from '../../src/flow-state/sealed-state.js'
import { fakeReplayStore as fakeStore } from '../helpers/fake-replay-store.js'
import { PUSHED_REQUEST_URI_PREFIX } from '../../src/authorization-request/request-object.js'
import {
  consumePushedRequest, MAX_PUSHED_REQUEST_URI_CHARS, PushedRequestSealer, SEALED_REQUEST_MARKER, type PushedParameters,
} from '../../src/pushed-requests/pushed-request-uri.js'

const SECRET = 'pushed-request-secret-pushed-request-0123'
const START = 1_800_000_000_000
const parameters: PushedParameters = [
  ['response_type', 'code'],
  ['client_id', 'app1'],
  ['redirect_uri', 'https://c.example/cb?x=1&y=ä'],
  ['scope', 'openid'],
  ['scope', 'accounts'],
  ['state', '日本語 state with spaces & symbols =+/%'],
  ['empty', ''],
  ['emoji', '🔐\u0000\n"\\'],
]
const PREFIX = PUSHED_REQUEST_URI_PREFIX + SEALED_REQUEST_MARKER

t.test('seal then open gives the parameters back in order, repeats, empties and unicode kept', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const sealed = sealer.seal('app1', parameters, 60)
  t.equal(sealed.expiresIn, 60)
  t.equal(sealed.expiresAt, START / 1000 + 60)
  t.ok(sealed.requestUri.startsWith(PREFIX))
  t.match(sealed.requestUri.slice(PUSHED_REQUEST_URI_PREFIX.length), /^[\w.-]+$/, 'URL-safe after the URN prefix')
  const opened = sealer.open(sealed.requestUri, 'app1')
  t.same(opened.parameters, parameters)
  t.equal(opened.expiresAt, sealed.expiresAt)
  t.match(opened.id, /^[\w-]{22}$/, '128 bits, base64url')
  t.notOk(sealed.requestUri.includes('app1') || sealed.requestUri.includes('code'), 'nothing readable travels')
  const again = sealer.seal('app1', parameters, 60)
  t.not(again.requestUri, sealed.requestUri, 'a fresh IV every time')
  t.not(sealer.open(again.requestUri, 'app1').id, opened.id, 'and a fresh id')
  t.same(sealer.open(sealer.seal('app1', [], 1).requestUri, 'app1').parameters, [], 'no parameters at all')
})

t.test('every single-character change is refused, in each region of the envelope', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const { requestUri } = sealer.seal('app1', parameters, 60)
  const body = PREFIX.length
  // base64url characters: key id [0, 5], iv up to 21, then ciphertext, the tag in the last 22.
  const regions = { prefix: [0, body], keyId: [body, body + 5], iv: [body + 6, body + 21], ciphertext: [body + 22, requestUri.length - 22], tag: [requestUri.length - 21, requestUri.length] }
  for (const [region, [from, to]] of Object.entries(regions) as Array<[string, [number, number]]>) {
    let refused = 0
    for (let i = from!; i < to!; i++) {
      const changed = requestUri.slice(0, i) + (requestUri[i] === 'A' ? 'B' : 'A') + requestUri.slice(i + 1)
      t.throws(() => sealer.open(changed, 'app1'), { code: 'invalid_request_uri', status: 400, oauthError: 'invalid_request_uri', redirectable: false })
      refused++
    }
    t.ok(refused > 0, `${region}: ${refused} changes refused`)
  }
  t.throws(() => sealer.open(requestUri + '=', 'app1'), { message: 'the request_uri is malformed' }, 'padding added')
  t.throws(() => sealer.open(requestUri.slice(0, body + 30) + '*' + requestUri.slice(body + 31), 'app1'), { message: 'the request_uri is malformed' }, 'a character outside base64url')
})

t.test('a change only in the unused trailing bits of the base64url is refused too', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let requestUri = ''
  // An envelope of 3n+1 bytes ends in a character whose 4 low bits carry nothing.
  for (let pad = 0; ; pad++) {
    requestUri = sealer.seal('app1', [['pad', 'x'.repeat(pad)]], 60).requestUri
    if (Buffer.from(requestUri.slice(PREFIX.length), 'base64url').length % 3 === 1) break
  }
  const last = requestUri.length - 1
  const flipped = requestUri.slice(0, last) + ALPHABET[ALPHABET.indexOf(requestUri[last]!) ^ 1]
  t.same(Buffer.from(flipped.slice(PREFIX.length), 'base64url'), Buffer.from(requestUri.slice(PREFIX.length), 'base64url'), 'the same bytes to a lenient decoder')
  t.throws(() => sealer.open(flipped, 'app1'), { message: 'the request_uri is malformed' })
})

t.test('not ours, malformed, truncated, another secret: refused with a reason', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const { requestUri } = sealer.seal('app1', parameters, 60)
  t.throws(() => sealer.open('urn:ietf:params:oauth:request_uri:abc', 'app1'), { code: 'invalid_request_uri', message: 'the request_uri was not issued by this server' })
  t.throws(() => sealer.open('https://client.example/request.jwt', 'app1'), { message: 'the request_uri was not issued by this server' })
  t.throws(() => sealer.open(PREFIX, 'app1'), { message: 'the request_uri is malformed' })
  t.throws(() => sealer.open(requestUri.slice(0, PREFIX.length + 40), 'app1'), { message: 'the request_uri is malformed' })
  const envelope = Buffer.from(requestUri.slice(PREFIX.length), 'base64url')
  t.throws(() => sealer.open(PREFIX + envelope.subarray(0, envelope.length - 3).toString('base64url'), 'app1'), { message: 'the request_uri failed authentication' }, 'three bytes cut off the tag')
  t.throws(() => sealer.open(PREFIX + 'A'.repeat(MAX_PUSHED_REQUEST_URI_CHARS), 'app1'), { message: 'the request_uri is malformed' }, 'over the bound: not even decoded')
  t.throws(() => new PushedRequestSealer(['another-secret-another-secret-0123456']).open(requestUri, 'app1'), { message: 'the request_uri was sealed with an unknown secret' })
})

t.test('a sealed state never opens as a request_uri, nor a request_uri as a state, under the same secret', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const states = new FlowStateSealer([SECRET], 600, () => START)
  const state = states.seal({ mode: 'query.jwt', clientId: 'app1', redirectUri: 'https://c.example/cb', responseType: 'code' })
  const asRequestUri = PREFIX + state.slice(SEALED_STATE_PREFIX.length)
  t.throws(() => sealer.open(asRequestUri, 'app1'), { code: 'invalid_request_uri', message: 'the request_uri was sealed with an unknown secret' }, 'another key id: keys differ')
  const { requestUri } = sealer.seal('app1', parameters, 60)
  t.throws(() => states.open(SEALED_STATE_PREFIX + requestUri.slice(PREFIX.length)), { code: 'flow_state_invalid' })
})

t.test("another client's request_uri is refused without naming that client", async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const { requestUri } = sealer.seal('app-secret-name', parameters, 60)
  const error = t.throws(() => sealer.open(requestUri, 'app2'), { code: 'invalid_request_uri', message: 'the request_uri was pushed by another client' }) as Error
  t.notOk(error.message.includes('app-secret-name'))
})

t.test('expiry by the injected clock: open until the ttl, refused from then', async (t) => {
  let now = START
  const sealer = new PushedRequestSealer([SECRET], () => now)
  const { requestUri } = sealer.seal('app1', parameters, 60)
  now += 59_999
  t.same(sealer.open(requestUri, 'app1').parameters, parameters)
  now += 1
  t.throws(() => sealer.open(requestUri, 'app1'), { code: 'invalid_request_uri', message: 'the request_uri has expired: push the request again' })
})

t.test('rotation: the first secret seals, every listed one opens', async (t) => {
  const OLD = 'old-secret-old-secret-old-secret-0123'
  const NEW = 'new-secret-new-secret-new-secret-0123'
  const before = new PushedRequestSealer([OLD], () => START)
  const after = new PushedRequestSealer([NEW, OLD], () => START)
  const fromOld = before.seal('app1', parameters, 600)
  t.same(after.open(fromOld.requestUri, 'app1').parameters, parameters, 'pushed before the rotation, used after')
  t.throws(() => before.open(after.seal('app1', parameters, 600).requestUri, 'app1'), { message: 'the request_uri was sealed with an unknown secret' }, 'the new secret seals')
  t.same(new PushedRequestSealer([NEW]).open(after.seal('app1', parameters, 600).requestUri, 'app1').parameters, parameters)
})

t.test('ttl outside 1..600 and no secrets are programming errors', async (t) => {
  const sealer = new PushedRequestSealer([SECRET])
  for (const ttl of [0, -1, 601, 1.5, Number.NaN]) {
    t.throws(() => sealer.seal('app1', parameters, ttl), { message: /^the pushed request ttl must be a whole number of seconds from 1 to 600/ }, `ttl ${ttl}`)
  }
  t.equal(sealer.seal('app1', parameters, 600).expiresIn, 600)
  t.throws(() => new PushedRequestSealer([]), { message: 'PushedRequestSealer needs at least one secret' })
})

t.test('the sealed size is bounded: a request too large to carry is a 413', async (t) => {
  const sealer = new PushedRequestSealer([SECRET])
  // Envelope: (plaintext + 32 bytes) as base64url, after 39 characters of prefix.
  const overhead = sealer.seal('app1', [['x', '']], 60).requestUri.length
  const fits = MAX_PUSHED_REQUEST_URI_CHARS - overhead
  const largest = sealer.seal('app1', [['x', 'a'.repeat(Math.floor(fits * 3 / 4))]], 60)
  t.ok(largest.requestUri.length <= MAX_PUSHED_REQUEST_URI_CHARS)
  t.same(sealer.open(largest.requestUri, 'app1').parameters[0]![1].length, Math.floor(fits * 3 / 4), 'the largest one still opens')
  t.throws(() => sealer.seal('app1', [['x', 'a'.repeat(Math.floor(fits * 3 / 4) + 3)]], 60), { code: 'request_body_too_large', status: 413, message: `the pushed request is too large: its request_uri would exceed ${MAX_PUSHED_REQUEST_URI_CHARS} characters` })
})

t.test('consumePushedRequest: used once, a reuse refused, the store keyed by kind, client and id', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const store = fakeStore()
  const { requestUri, expiresAt } = sealer.seal('app1', parameters, 90)
  const opened = await consumePushedRequest(sealer, store, requestUri, 'app1')
  t.same(opened.parameters, parameters)
  t.same(store.calls, [['request_uri', 'app1', opened.id, expiresAt]], 'kept until it expires anyway')
  await t.rejects(consumePushedRequest(sealer, store, requestUri, 'app1'), { code: 'invalid_request_uri', message: 'the request_uri was already used: push the request again' })
  const other = sealer.seal('app1', parameters, 90)
  t.same((await consumePushedRequest(sealer, store, other.requestUri, 'app1')).parameters, parameters, 'another push of the same parameters is another request')
  await t.rejects(consumePushedRequest(sealer, store, other.requestUri, 'app2'), { message: 'the request_uri was pushed by another client' }, 'opened before the store is asked')
  t.equal(store.calls.length, 3)
})

t.test('consumePushedRequest: a store that cannot answer fails closed, its error propagates', async (t) => {
  const sealer = new PushedRequestSealer([SECRET], () => START)
  const store = fakeStore()
  store.down = true
  const { requestUri } = sealer.seal('app1', parameters, 90)
  await t.rejects(consumePushedRequest(sealer, store, requestUri, 'app1'), { message: 'replay store down' })
  store.down = false
  t.same((await consumePushedRequest(sealer, store, requestUri, 'app1')).parameters, parameters, 'never recorded, so usable once the store is back')
})

t.test('a pushed request is bound to the issuer that took it, and says whether it came signed', async (t) => {
  const sealer = new PushedRequestSealer([SECRET])
  const atA = sealer.seal('app1', [['scope', 'openid']], 60, { issuer: 'https://id.example/realms/a', signed: true })
  t.equal(sealer.open(atA.requestUri, 'app1', 'https://id.example/realms/a').signed, true)
  t.throws(() => sealer.open(atA.requestUri, 'app1', 'https://id.example/realms/b'), { code: 'invalid_request_uri', message: 'the request_uri was pushed to another issuer of this server' }, 'the same client_id at another realm cannot use it')
  t.throws(() => sealer.open(atA.requestUri, 'app1'), { code: 'invalid_request_uri' }, 'nor an issuer-less gateway')
  const plain = sealer.seal('app1', [], 60)
  t.equal(sealer.open(plain.requestUri, 'app1').signed, false)
  t.throws(() => sealer.open(plain.requestUri, 'app1', 'https://id.example/realms/a'), { code: 'invalid_request_uri' })
})
