// Rolling restart: two gateway processes (the CLI, same config and secrets) behind one address;
// under continuous load each in turn is stopped with SIGTERM (drain) and replaced. Not one flow
// fails: requests in flight finish on the stopping process, new ones go to the other, and flows
// begun on one process finish on another (the sealed state needs no shared store).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startBalancer } from '../helpers/balancer.js'
import { gatewayKeySet, HS_SECRET, runFlow, startLegacyFake, verifyResponse } from '../helpers/fake-stack.js'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js'
import { runUntil } from '../helpers/pool.js'
import { STATE_SECRET, TEST_KEYS } from '../helpers/stack.js'

const CONCURRENCY = Number(process.env['ROLLING_CONCURRENCY'] ?? 16)
/** Restarts of one process each; the CI run restarts one (a process takes seconds to start under ts-node). */
const RESTARTS = Number(process.env['ROLLING_RESTARTS'] ?? 1)

const balancer = await startBalancer()
const fake = await startLegacyFake(balancer.url)
// A little latency at the legacy server, so requests are in flight when a process is stopped.
fake.script = async () => { await new Promise((resolve) => setTimeout(resolve, 20)); return false }
const dir = mkdtempSync(join(tmpdir(), 'jarm-gateway-rolling-'))
const configFile = join(dir, 'gateway.config.json')
writeFileSync(configFile, JSON.stringify({
  listen: { host: '127.0.0.1', port: 0 },
  upstream: { url: fake.url, timeout_ms: 5000 },
  keys: TEST_KEYS,
  state: { secrets: [STATE_SECRET] },
  clients: { app1: { authorization_signed_response_alg: 'ES256' }, hs: { authorization_signed_response_alg: 'HS256', client_secret: HS_SECRET } },
}))
const processes: GatewayProcess[] = await Promise.all([startGatewayProcess(configFile), startGatewayProcess(configFile)])
balancer.backends = processes.map((p) => p.url)
t.teardown(async () => {
  for (const p of processes) await p.stop('SIGKILL')
  await balancer.close()
  await fake.close()
})

t.test(`${RESTARTS} rolling restart(s) under load (${CONCURRENCY} concurrent flows)`, async (t) => {
  const keys = await gatewayKeySet(balancer.url)
  let stopLoad = false
  const modes = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const
  const load = runUntil(CONCURRENCY, () => stopLoad, async (index) => {
    const state = `rolling-${index}`
    const flow = await runFlow(balancer.url, { mode: modes[index % modes.length]!, state })
    const { payload } = await verifyResponse(flow.response, keys, { issuer: balancer.url, clientId: 'app1', algorithms: ['ES256'] })
    if (payload['state'] !== state) throw new Error('state mismatch')
  })
  const exitCodes: Array<number | null> = []
  let drained = 0
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  for (let restart = 0; restart < RESTARTS; restart++) {
    const slot = restart % processes.length
    // A rolling update as a platform runs it (surge): the replacement starts and joins first; then
    // the old process is taken out of rotation and sent SIGTERM while flows are in flight on it.
    const fresh = await startGatewayProcess(configFile)
    const old = processes[slot]!
    balancer.backends = [...processes.map((p) => p.url), fresh.url]
    await sleep(300)
    const inFlight = old.lines.filter((line) => line['event'] === 'request').length
    // SIGTERM while it is still in rotation: it stops listening at once (the balancer moves new
    // connections to the others) and finishes what it holds; only then is it taken out.
    const stopped = old.stop()
    exitCodes.push(await stopped)
    processes[slot] = fresh
    balancer.backends = processes.map((p) => p.url)
    const stopAt = old.lines.findIndex((line) => line['event'] === 'stopping')
    drained += old.lines.slice(stopAt).filter((line) => line['event'] === 'request' && line['completed'] === true).length
    t.ok(old.lines.some((line) => line['event'] === 'stopping' && line['signal'] === 'SIGTERM'), `restart ${restart}: drained on SIGTERM`)
    t.ok(old.lines.filter((line) => line['event'] === 'request').length >= inFlight, `restart ${restart}: it answered up to its exit`)
    t.notOk(old.lines.some((line) => line['event'] === 'request' && line['completed'] === false), `restart ${restart}: no request cut off by the stop`)
  }
  await sleep(500)
  stopLoad = true
  const outcome = await load
  t.same(exitCodes, new Array(RESTARTS).fill(0), 'every stopped process exited 0 after its drain')
  t.equal(outcome.failed, 0, `zero failed flows (first errors: ${outcome.errors.map((e) => (e as Error).message).join('; ')})`)
  t.ok(outcome.ran > CONCURRENCY, `flows ran throughout (${outcome.ran})`)
  const crossed = processes.flatMap((p) => p.lines).filter((line) => line['event'] === 'jarm.response').length
  t.comment(`${outcome.ran} flows, ${outcome.failed} failed, ${RESTARTS} SIGTERM restarts, ${drained} requests finished by a process after its SIGTERM, ${balancer.stats.retried} connection attempts moved to another process, ${crossed} responses signed by the last generation`)
})
