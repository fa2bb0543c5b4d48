// `npm run bench -- --smoke` keeps working: every server starts, every case answers correctly (the
// bench checks each answer before timing it and counts any other status as a failure), and the
// report has all its sections. Nothing here looks at speed: benchmarks are not timed tests.
import t from 'tap'
import { fork } from 'node:child_process'

t.setTimeout(300_000)

t.test('the smoke run completes and prints every section', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_SMOKE: '1' }
  // The bench's servers run src/ only to be measured: they must not count as test coverage.
  delete env['NODE_V8_COVERAGE']
  const child = fork(new URL('../../bench/run-bench.ts', import.meta.url), [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, `the bench exits cleanly\n${stderr.split('\n').filter((line) => !line.includes('WARNING')).slice(-20).join('\n')}`)
  t.match(stdout, /SMOKE RUN/)
  for (const heading of ['### 1. Passthrough', '### 2. The JARM path', '### 3. Complete browser flows', '### 4. Memory of the gateway process']) {
    t.ok(stdout.includes(heading), heading)
  }
  for (const row of ['| b-tls |', '| c-tls |', 'c-tls/b-tls', '| c |', '| d |', '| e-ES256 |', '| e-EdDSA |', '| e-PS256 |', '| e-RS256 |', '| e-HS256 |', '| f |', '| h |', '| gateway |', '| native |', '| proxied |', 'proxied/native', 'g/d', 'floor: one ES256 signature', 'JARM extra CPU ES256 / its floor', 'CPU per request, c/b', 'CPU ms per flow']) {
    t.ok(stdout.includes(row), `reports ${row}`)
  }
  t.notMatch(stdout, /FAILURES/)
})
