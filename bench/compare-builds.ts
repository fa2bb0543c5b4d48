/**
 * `node dist/bench/compare-builds.js <other-checkout> [case] [requests] [rounds]`: CPU per request of
 * this build's gateway and another build's, side by side, with a bare http-proxy as the yardstick.
 * How a perf fix is measured on a noisy machine: the other checkout is this one before the change
 * (a `git worktree` at the previous commit, built), or a copy of `dist/` with one item switched off.
 * It needs its own `dist/` (npm run build), `schema/` and `node_modules/` (a symlink will do).
 *
 * Both gateways get the same configuration and upstream, runs alternate (bare, this, other, ...),
 * and on Linux with `taskset` the proxies share one core and the load generator and upstream the
 * other: the proxy is then the only thing on its core, and the spread between rounds drops from
 * ±40 % to ±5 % here. Prints medians and the median of the per-round ratio other/this.
 * Cases: small (passthrough), page (HTML passthrough), plain (authorization request), es256,
 * eddsa (query.jwt), form-post (form_post.jwt captured from a form_post page).
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import { BenchChild } from './lib/child-ipc.js'
import { quickCaseConfig, quickCasePath } from './lib/quick-cases.js'
import { median } from './lib/stats.js'
import { pinProxiesApart } from './lib/pin-cpus.js'

const other = resolve(process.argv[2] ?? '')
const which = process.argv[3] ?? 'small'
const amount = Number(process.argv[4] ?? 8000)
const rounds = Number(process.argv[5] ?? 5)
if (process.argv[2] === undefined) {
  process.stderr.write('usage: node dist/bench/compare-builds.js <other-checkout> [small|page|plain|es256|eddsa|form-post] [requests] [rounds]\n')
  process.exit(2)
}

const { BenchChild: OtherChild } = await import(pathToFileURL(`${other}/dist/bench/lib/child-ipc.js`).href) as { BenchChild: typeof BenchChild }
const upstream = await BenchChild.start('fake-upstream')
const bare = await BenchChild.start('bare-proxy', { args: [upstream.url] })
const config = await quickCaseConfig(which, upstream.url)
const mine = await BenchChild.start('gateway-process')
await mine.call('serve', { config })
const theirs = await OtherChild.start('gateway-process')
await theirs.call('serve', { config })

const pinned = pinProxiesApart()

const path = quickCasePath(which)

/** CPU per request (µs, user + system) of the child serving one run. */
async function cpuPerRequest (child: BenchChild, url: string): Promise<number> {
  const before = await child.usage()
  const result = await autocannon({ url, connections: 10, amount })
  const after = await child.usage()
  return (after.user + after.system - before.user - before.system) / result.requests.total
}

const runs = { bare: [] as number[], mine: [] as number[], theirs: [] as number[] }
// The bare proxy always runs /small: it is the yardstick for the machine's speed in each round.
const bareUrl = `${bare.url}/small`
for (const [child, url] of [[bare, bareUrl], [mine, mine.url + path], [theirs, theirs.url + path]] as const) await cpuPerRequest(child, url)
for (let round = 0; round < rounds; round++) {
  runs.bare.push(await cpuPerRequest(bare, bareUrl))
  runs.mine.push(await cpuPerRequest(mine, mine.url + path))
  runs.theirs.push(await cpuPerRequest(theirs, theirs.url + path))
}
const show = (values: number[]): string => `${median(values).toFixed(0)} µs  [${values.map((v) => v.toFixed(0)).join(' ')}]`
process.stdout.write([
  `${which}: CPU per request, ${rounds} rounds of ${amount}${pinned ? ', proxies pinned to CPU 1' : ' (not pinned)'}`,
  `  bare http-proxy (/small) ${show(runs.bare)}`,
  `  this build               ${show(runs.mine)}`,
  `  ${other.padEnd(24).slice(0, 24)} ${show(runs.theirs)}`,
  `  other/this: ${median(runs.theirs.map((value, i) => value / runs.mine[i]!)).toFixed(2)} (median of the per-round ratios)`,
  '',
].join('\n'))
await Promise.all([mine.stop(), theirs.stop(), bare.stop(), upstream.stop()])
