/**
 * The gateway as operators run it: a child process running the CLI with a config file, on port 0.
 * Its JSON log lines are read to learn its address; `stop()` sends SIGTERM (the drain) and resolves
 * with the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli/jarm-gateway.ts', import.meta.url))

export interface GatewayProcess {
  readonly url: string
  readonly child: ChildProcess
  readonly lines: Array<Record<string, unknown>>
  stop (signal?: NodeJS.Signals): Promise<number | null>
}

/** Children still running, killed if the test process itself is stopped (a runner timeout), so none is orphaned. */
const running = new Set<ChildProcess>()
let reaperInstalled = false
function installReaper (): void {
  if (reaperInstalled) return
  reaperInstalled = true
  process.on('exit', () => { for (const child of running) child.kill('SIGKILL') })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      for (const child of running) child.kill('SIGKILL')
      process.exit(128 + (signal === 'SIGTERM' ? 15 : 2))
    })
  }
}

export async function startGatewayProcess (configFile: string): Promise<GatewayProcess> {
  installReaper()
  // The parent's loader flags (ts-node through tap) run the TypeScript CLI as the tests do.
  const child = spawn(process.execPath, [...process.execArgv, CLI, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JARM_GATEWAY_LOG_LEVEL: 'info' } })
  const lines: Array<Record<string, unknown>> = []
  const stderr: string[] = []
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
  running.add(child)
  const exited = once(child, 'exit').then(([code]) => { running.delete(child); return code as number | null })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway process did not start: ${stderr.join('')}`)), 60_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>
      try { parsed = JSON.parse(line) as Record<string, unknown> } catch { return }
      lines.push(parsed)
      if (parsed['event'] === 'metadata.loaded' || parsed['event'] === 'metadata.unavailable') {
        clearTimeout(timer)
        resolve(String(lines.find((l) => l['event'] === 'listening')!['url']))
      }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`the gateway process exited with ${code}: ${stderr.join('')}`)) })
  })
  return {
    url,
    child,
    lines,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}
