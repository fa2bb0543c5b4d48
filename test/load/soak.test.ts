// Soak: complete flows for a while with steady concurrency, memory reported at the start and the
// end. A short run in CI; SOAK_SECONDS=300 for several minutes.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { gatewayKeySet, runFlow, startFakeStack, verifyResponse } from '../helpers/fake-stack.js'
import { runUntil } from '../helpers/pool.js'

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 8)
const CONCURRENCY = Number(process.env['SOAK_CONCURRENCY'] ?? 16)
// A full garbage collection before each measurement, so heap figures are live objects, not garbage
// V8 has not collected yet (--expose-gc, set from inside the test).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const measure = (): NodeJS.MemoryUsage => { gc(); gc(); return process.memoryUsage() }
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`

t.test(`soak: ${SECONDS} s of flows, ${CONCURRENCY} at a time`, async (t) => {
  const stack = await startFakeStack({ retainLogs: false })
  t.teardown(() => stack.close())
  const keys = await gatewayKeySet(stack.gatewayUrl)
  const modes = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'] as const
  const flow = async (index: number): Promise<void> => {
    const state = `soak-${index}`
    const result = await runFlow(stack.gatewayUrl, { mode: modes[index % modes.length]!, state })
    const { payload } = await verifyResponse(result.response, keys, { issuer: stack.gatewayUrl, clientId: 'app1', algorithms: ['ES256'] })
    if (payload['state'] !== state) throw new Error('state mismatch')
  }
  // Warm up (JIT, pools, caches) before the first measurement.
  const warm = await runUntil(CONCURRENCY, (() => { let n = 0; return () => n++ >= 200 })(), flow)
  t.equal(warm.failed, 0)
  const start = measure()
  const deadline = Date.now() + SECONDS * 1000
  const samples: number[] = []
  const sampler = setInterval(() => samples.push(process.memoryUsage().rss), 1000)
  const outcome = await runUntil(CONCURRENCY, () => Date.now() >= deadline, flow)
  clearInterval(sampler)
  const end = measure()
  t.equal(outcome.failed, 0, `zero failed flows (${outcome.errors.map((e) => (e as Error).message).join('; ')})`)
  t.ok(outcome.ran > 0)
  // Bounded, not timed: a leak of even a few kB per flow over thousands of flows would show here.
  t.ok(end.heapUsed - start.heapUsed < 64 * 1024 * 1024, `heap used grew ${mb(end.heapUsed - start.heapUsed)}`)
  t.comment(`${outcome.ran} flows in ${SECONDS} s; RSS ${mb(start.rss)} at start, ${mb(end.rss)} at end (peak ${mb(Math.max(end.rss, ...samples))}); heap used ${mb(start.heapUsed)} -> ${mb(end.heapUsed)}; upstream sockets open at the end: ${stack.upstreamSockets()}`)
})
