// The command itself: started as a process, it reloads on SIGHUP (a good file is swapped in, a
// broken one is refused with every problem logged) and stops on SIGTERM.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { generatePrivateJwk } from '../../src/keys/signing-keys.js'

const dir = await mkdtemp(join(tmpdir(), 'jarm-gateway-cli-'))
t.teardown(() => rm(dir, { recursive: true }))
const file = join(dir, 'gateway.config.json')
const config = (kid: string, key: Record<string, unknown>): string => JSON.stringify({
  listen: { host: '127.0.0.1', port: 0 },
  upstream: { url: 'http://127.0.0.1:9', timeout_ms: 1000 },
  keys: { keys: [{ ...key, kid }] },
  state: { secrets: ['a-test-secret-for-sealing-flow-state-0123456789'] },
})
const key = await generatePrivateJwk('RS256')
await writeFile(file, config('first', key))

t.test('SIGHUP reloads, a broken file is refused, SIGTERM stops', async (t) => {
  const child = spawn(process.execPath, [...process.execArgv, 'src/cli/jarm-gateway.ts', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const events: Array<Record<string, unknown>> = []
  const waiters: Array<{ event: string, resolve: (line: Record<string, unknown>) => void }> = []
  lines.on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>
    events.push(line)
    for (const waiter of waiters.filter((w) => w.event === line['event'])) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(line)
    }
  })
  const next = (event: string): Promise<Record<string, unknown>> => new Promise((resolve) => waiters.push({ event, resolve }))

  await next('metadata.unavailable')
  await writeFile(file, config('second', key))
  const reloaded = next('config.reloaded')
  child.kill('SIGHUP')
  t.same((await reloaded)['kids'], ['second'])

  await writeFile(file, JSON.stringify({ upstream: { url: 'http://127.0.0.1:9' }, clients: { app1: { authorization_signed_response_alg: 'none' } } }))
  const refused = next('config.reload_failed')
  child.kill('SIGHUP')
  t.match((await refused)['problems'], [/client app1 is "none", which is refused/])

  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  t.ok(events.some((line) => line['event'] === 'stopping'))
})
