/**
 * `node dist/bench/measure-cpu.js [path] [requests]`: CPU per request of the bare proxy and the gateway
 * on one path, alternating, a quick check while working on a perf fix (the full bench is
 * `npm run bench`). CPU per request is far less sensitive to a busy machine than requests per second.
 */
import autocannon from 'autocannon'
import { BenchChild } from './lib/child-ipc.js'
import { quickCaseConfig, quickCasePath } from './lib/quick-cases.js'
import { median } from './lib/stats.js'

const which = process.argv[2] ?? 'small'
const amount = Number(process.argv[3] ?? 20000)
const upstream = await BenchChild.start('fake-upstream')
const bare = await BenchChild.start('bare-proxy', { args: [upstream.url] })
const gateway = await BenchChild.start('gateway-process', { execArgv: (process.env['GATEWAY_EXEC_ARGV'] ?? '').split(' ').filter(Boolean) })
await gateway.call('serve', { config: await quickCaseConfig(which, upstream.url) })
const path = quickCasePath(which)
const cpuPerRequest = async (child: BenchChild): Promise<number> => {
  const before = await child.usage()
  const result = await autocannon({ url: child.url + path, connections: 10, amount })
  const after = await child.usage()
  process.stderr.write(`${child === gateway ? 'gateway' : 'bare proxy'}: ${Math.round(result.requests.total / result.duration)} rps\n`)
  return (after.user + after.system - before.user - before.system) / result.requests.total
}
const bareRuns: number[] = []
const gatewayRuns: number[] = []
await cpuPerRequest(gateway)
if (which === 'small' || which === 'page') await cpuPerRequest(bare)
for (let round = 0; round < 3; round++) {
  if (which === 'small' || which === 'page') bareRuns.push(await cpuPerRequest(bare))
  gatewayRuns.push(await cpuPerRequest(gateway))
}
process.stdout.write(`${which}: gateway ${median(gatewayRuns).toFixed(0)} µs CPU/request${bareRuns.length > 0 ? `, bare proxy ${median(bareRuns).toFixed(0)} µs` : ''} (medians of 3 × ${amount})\n`)
await Promise.all([gateway.stop(), bare.stop(), upstream.stop()])
