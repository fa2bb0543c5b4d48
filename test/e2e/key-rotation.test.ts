// Rotation without downtime: 200 flows through the real legacy server while SIGHUP swaps in a
// configuration with a new signing key and a new state secret. No flow fails: flows sealed before
// the reload finish after it, responses signed before it still verify after it (the retired key
// stays published for the response lifetime), and afterwards the retired key goes. A broken reload
// changes nothing and logs every problem.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader } from 'jose'
import { reloadOnSignal } from '../../src/cli/reload-on-signal.js'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'
import { BrowserAgent } from '../helpers/browser-agent.js'
import { APP1, APP1_SECRET, authorizationRequest, discover, judge, redeem, type AuthorizationRequest } from '../helpers/judge.js'
import { REDIRECT_URI } from '../helpers/response-security.js'
import { callbackParameters } from '../helpers/browser-agent.js'
import { startStack, STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'

const FLOWS = 200
const CONCURRENCY = 8
const NEW_STATE_SECRET = 'the-state-secret-after-rotation-0123456789abcdef'

let clockOffsetMs = 0
const stack = await startStack({ now: () => Date.now() + clockOffsetMs })
const gateway = stack.gateways[0]!.gateway
const dir = await mkdtemp(join(tmpdir(), 'jarm-gateway-rotation-'))
const file = join(dir, 'gateway.config.json')
const reloader = reloadOnSignal(file, gateway, stack.logger)
t.teardown(async () => {
  reloader.stop()
  await stack.close()
  await rm(dir, { recursive: true })
})
const as = await discover(stack.issuer)
const oldKid = TEST_KEYS.keys[0]!.kid!
const newKey = await generatePrivateJwk('ES256')
const newKid = newKey.kid!

/** The configuration file after rotation: a new ES256 key instead of the old one, a new state secret only. */
function rotated (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    upstream: { url: stack.legacy.url },
    keys: { keys: [newKey, ...TEST_KEYS.keys.slice(1)] },
    state: { secrets: [NEW_STATE_SECRET] },
    clients: { app1: { authorization_signed_response_alg: 'ES256' } },
    ...extra,
  }
}

async function jwks (): Promise<Array<{ kid: string }>> {
  return ((await (await fetch(as.jwks_uri!)).json()) as { keys: Array<{ kid: string }> }).keys
}

/** A whole flow, judged with a fresh copy of the metadata (so the JWKS is fetched, not cached). */
async function finish (request: AuthorizationRequest, agent: BrowserAgent, start: URL): Promise<string> {
  const parameters = callbackParameters(await agent.run(start))
  const callback = await judge({ ...as }, APP1, parameters, request.state!)
  await redeem({ ...as }, APP1, APP1_SECRET, callback, REDIRECT_URI, request.verifier, request.nonce)
  return decodeProtectedHeader(parameters.get('response')!).kid!
}

t.test(`${FLOWS} flows while SIGHUP rotates the signing key and the state secret: none fails`, async (t) => {
  // Ten flows sealed with the old secret, finished only after the reload.
  const straddling: Array<{ request: AuthorizationRequest, agent: BrowserAgent, next: URL }> = []
  for (let i = 0; i < 10; i++) {
    const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
    const agent = new BrowserAgent()
    const first = await agent.request(request.url)
    straddling.push({ request, agent, next: new URL(first.headers.get('location')!, stack.gatewayUrl) })
  }
  const signedBefore: URLSearchParams[] = []
  const before = await authorizationRequest(as, { response_mode: 'fragment.jwt' })
  signedBefore.push(callbackParameters(await new BrowserAgent().run(before.url)))

  await writeFile(file, JSON.stringify(rotated()))
  const kids: string[] = []
  const failures: unknown[] = []
  let started = 0
  let reloaded: Promise<void> | undefined
  const worker = async (): Promise<void> => {
    while (started < FLOWS) {
      const index = started++
      if (index === FLOWS / 2) {
        process.kill(process.pid, 'SIGHUP')
        reloaded = (async () => { while (!stack.logs.some((line) => line['event'] === 'config.reloaded')) await new Promise((resolve) => setTimeout(resolve, 5)) })()
      }
      try {
        const request = await authorizationRequest(as, { response_mode: index % 3 === 0 ? 'form_post.jwt' : index % 3 === 1 ? 'query.jwt' : 'fragment.jwt' })
        kids.push(await finish(request, new BrowserAgent(), request.url))
      } catch (error) {
        failures.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await reloaded
  for (const { request, agent, next } of straddling) {
    try {
      kids.push(await finish(request, agent, next))
    } catch (error) {
      failures.push(error)
    }
  }
  t.same(failures, [], 'no flow failed')
  t.equal(kids.length, FLOWS + straddling.length)
  t.ok(kids.includes(oldKid), 'some responses were signed with the old key')
  t.equal(kids.filter((kid) => kid === newKid).length >= straddling.length, true, 'the new key signs after the reload')
  t.equal(gateway.config.keyRing.keyFor('ES256')?.kid, newKid)

  // A response signed before the reload still verifies after it: the retired key is still published.
  const published = (await jwks()).map((key) => key.kid)
  t.ok(published.includes(oldKid) && published.includes(newKid), 'old and new key both published')
  await judge({ ...as }, APP1, signedBefore[0]!, before.state!)
})

t.test('the retired key is dropped once its last response has expired', async (t) => {
  clockOffsetMs = (120 + 61) * 1000
  t.teardown(() => { clockOffsetMs = 0 })
  const published = (await jwks()).map((key) => key.kid)
  t.notOk(published.includes(oldKid), 'old key gone')
  t.ok(published.includes(newKid))
})

t.test('a state sealed with the retired secret, after the flow lifetime, is expired, not reopened', async (t) => {
  const { FlowStateSealer } = await import('../../src/flow-state/sealed-state.js')
  const sealed = new FlowStateSealer([STATE_SECRET], 60).seal({ mode: 'query.jwt', clientId: 'app1', redirectUri: REDIRECT_URI, responseType: 'code', state: 's' })
  clockOffsetMs = 120 * 1000
  t.teardown(() => { clockOffsetMs = 0 })
  const request = await authorizationRequest(as, { response_mode: 'query', state: sealed })
  const arrival = await new BrowserAgent().run(request.url)
  t.equal(arrival.kind, 'page')
  t.equal(arrival.status, 400)
  t.match(arrival.kind === 'page' ? arrival.text : '', /flow_state_expired/)
})

t.test('a broken reload changes nothing and logs every problem', async (t) => {
  const discoveryBefore = await (await fetch(`${stack.issuer}/.well-known/openid-configuration`)).text()
  const jwksBefore = await jwks()
  await writeFile(file, JSON.stringify(rotated({
    keys: { keys: [newKey] },
    clients: {
      app1: { authorization_signed_response_alg: 'none' },
      app3: { authorization_signed_response_alg: 'PS256' },
      app4: { authorization_encrypted_response_enc: 'A128GCM' },
    },
  })))
  t.equal(await reloader.reload(), false)
  const failed = stack.logs.filter((line) => line['event'] === 'config.reload_failed').at(-1)!
  t.equal(failed['level'], 50)
  t.same(failed['problems'], [
    'clients.app1.authorization_signed_response_alg: client app1 is "none", which is refused: an unsigned response can be forged by anyone who can send the browser to the redirect_uri (JARM §2.2 requires a signature); choose an algorithm such as RS256, PS256, ES256 or EdDSA',
  ], 'the schema stage reports alg none first')
  await writeFile(file, JSON.stringify(rotated({
    keys: { keys: [newKey] },
    clients: { app3: { authorization_signed_response_alg: 'PS256' }, app4: { authorization_encrypted_response_enc: 'A128GCM' } },
  })))
  t.equal(await reloader.reload(), false)
  t.same(stack.logs.filter((line) => line['event'] === 'config.reload_failed').at(-1)!['problems'], [
    'clients.app4.authorization_encrypted_response_enc: is set without authorization_encrypted_response_alg (JARM §3: enc requires alg)',
    'clients.app4, default_signed_response_alg: no key in "keys" can sign RS256; add a key with "alg": "RS256"',
    'clients.app3: no key in "keys" can sign PS256; add a key with "alg": "PS256"',
  ], 'every problem of the second stage at once')
  t.equal(await (await fetch(`${stack.issuer}/.well-known/openid-configuration`)).text(), discoveryBefore, 'discovery unchanged')
  t.same(await jwks(), jwksBefore, 'keys unchanged')
  t.equal(gateway.config.keyRing.keyFor('ES256')?.kid, newKid)
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  t.equal(await finish(request, new BrowserAgent(), request.url), newKid, 'flows still work')
})

t.test('an unexpected error while loading is logged and changes nothing too', async (t) => {
  const failing = reloadOnSignal(file, gateway, stack.logger, 'SIGUSR2', async () => { throw new Error('the disk went away') })
  t.teardown(() => failing.stop())
  const config = gateway.config
  t.equal(await failing.reload(), false)
  t.equal(gateway.config, config)
  t.match(stack.logs.filter((line) => line['event'] === 'config.reload_failed').at(-1)!['problems'], ['unexpected error: the disk went away'])
})

t.test('a reload that moves the upstream settings or the listen address: new proxy, listen kept with a warning', async (t) => {
  await writeFile(file, JSON.stringify(rotated({ listen: { port: 1 }, upstream: { url: stack.legacy.url, timeout_ms: 20000 }, state: undefined })))
  t.equal(await reloader.reload(), true)
  t.equal(gateway.config.upstream.timeoutMs, 20000)
  t.ok(stack.logs.some((line) => line['event'] === 'config.reload_listen_ignored'))
  t.ok(stack.logs.some((line) => line['event'] === 'config.warning' && /state\.secrets/.test(String(line['msg']))))
  const request = await authorizationRequest(as, { response_mode: 'fragment.jwt' })
  t.equal(await finish(request, new BrowserAgent(), request.url), newKid)
})

t.test('the usual production shape: keys in their own file, relative to the config; unreadable files refused', async (t) => {
  await writeFile(join(dir, 'signing.jwks.json'), JSON.stringify({ keys: [newKey, ...TEST_KEYS.keys.slice(1)] }))
  await writeFile(file, JSON.stringify(rotated({ keys: './signing.jwks.json' })))
  t.equal(await reloader.reload(), true)
  t.equal(gateway.config.keyRing.keyFor('ES256')?.kid, newKid)
  const failures = (): unknown => stack.logs.filter((line) => line['event'] === 'config.reload_failed').at(-1)!['problems']
  await writeFile(file, JSON.stringify(rotated({ keys: './missing.jwks.json' })))
  t.equal(await reloader.reload(), false)
  t.match(failures(), [/^keys: cannot read a JWKS from .*missing\.jwks\.json \(ENOENT/])
  await writeFile(file, '{ "upstream": ')
  t.equal(await reloader.reload(), false)
  t.match(failures(), [/gateway\.config\.json: is not valid JSON \(/])
  await rm(file)
  t.equal(await reloader.reload(), false)
  t.match(failures(), [/gateway\.config\.json: cannot be read \(ENOENT\)/])
  const request = await authorizationRequest(as, { response_mode: 'query.jwt' })
  t.equal(await finish(request, new BrowserAgent(), request.url), newKid, 'still running on the last good configuration')
})
