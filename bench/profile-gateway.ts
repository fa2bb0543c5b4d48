/**
 * `node dist/bench/profile-gateway.js <case> [seconds]`: load one case against a gateway process
 * started with --cpu-prof, then print where its CPU went (self time by function, and by file).
 * Cases: bare (the bare http-proxy on /small, for comparison), small (passthrough), page (HTML passthrough), plain (authorization request, no JWT mode),
 * es256 (query.jwt), form-post (form_post.jwt captured from a form_post page).
 * The profile lands in ./profiles/ (ignored by git) for Chrome DevTools.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import autocannon from 'autocannon'
import { BenchChild } from './lib/child-ipc.js'
import { pinProxiesApart } from './lib/pin-cpus.js'
import { quickCaseConfig, quickCasePath } from './lib/quick-cases.js'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }

const which = process.argv[2] ?? 'small'
const seconds = Number(process.argv[3] ?? 5)
const dir = resolve('profiles')
mkdirSync(dir, { recursive: true })

const upstream = await BenchChild.start('fake-upstream')
const profiled = ['--cpu-prof', `--cpu-prof-dir=${dir}`]
const gateway = which === 'bare'
  ? await BenchChild.start('bare-proxy', { args: [upstream.url], execArgv: profiled })
  : await BenchChild.start('gateway-process', { execArgv: profiled })
if (which !== 'bare') await gateway.call('serve', { config: await quickCaseConfig(which, upstream.url) })
const pinned = pinProxiesApart()
const path = which === 'bare' ? '/small' : quickCasePath(which)
const started = Date.now()
const result = await autocannon({ url: gateway.url + path, connections: 10, duration: seconds })
process.stderr.write(`${which}: ${Math.round(result.requests.total / result.duration)} rps, non-2xx ${result.non2xx}, errors ${result.errors}${pinned ? ', gateway pinned to CPU 1' : ''}\n`)
await gateway.stop()
await upstream.stop()

const file = readdirSync(dir).map((name) => join(dir, name)).filter((path) => statSync(path).mtimeMs >= started).sort().at(-1)!
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[], samples: number[], startTime: number, endTime: number }
const total = profile.samples.length
/** Microseconds of the profiled process per request served: a sample stands for (end - start) / samples. */
const usPerHit = (profile.endTime - profile.startTime) / total / Math.max(1, result.requests.total)
const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0
  if (hits === 0) continue
  const { functionName, url, lineNumber } = node.callFrame
  const where = url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '') || '(native)'
  const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + hits)
  const fileKey = where.replace(/:\d+$/, '').split('/').slice(0, 2).join('/')
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits)
}
// Inclusive time: a function's own samples plus its callees', counted once per call path.
const nodesById = new Map(profile.nodes.map((node) => [node.id, node]))
const inclusive = new Map<string, number>()
const keyOf = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '') || '(native)'}:${node.callFrame.lineNumber + 1}`
const walk = (node: ProfileNode, onStack: Set<string>): number => {
  let hits = node.hitCount ?? 0
  const key = keyOf(node)
  const fresh = !onStack.has(key)
  if (fresh) onStack.add(key)
  for (const child of node.children ?? []) hits += walk(nodesById.get(child)!, onStack)
  if (fresh) { onStack.delete(key); inclusive.set(key, (inclusive.get(key) ?? 0) + hits) }
  return hits
}
walk(profile.nodes[0]!, new Set())
const top = (map: Map<string, number>, n: number): string => [...map].sort((x, y) => y[1] - x[1]).slice(0, n)
  .map(([key, hits]) => `${(100 * hits / total).toFixed(1).padStart(5)} % ${(hits * usPerHit).toFixed(1).padStart(7)} µs/req  ${key}`).join('\n')
const ours = new Map([...inclusive].filter(([key]) => / (src|http-proxy|pino)\//.test(key) || /node:_http|node:events|node:internal\/(streams|crypto|url)/.test(key)))
process.stdout.write(`profile: ${file}\n\ninclusive time (src, http-proxy, pino, node http/streams/crypto):\n${top(ours, 45)}\n\nself time by function:\n${top(byFunction, 35)}\n\nself time by module:\n${top(byFile, 20)}\n`)
