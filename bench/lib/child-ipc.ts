/**
 * The bench's processes talk over Node's IPC channel: each server runs in its own child so that its
 * CPU time and RSS are its own, and the load generator (the parent) never shares its event loop.
 *
 * Parent side: `BenchChild.start(name)` forks `bench/servers/<name>` (the .ts file under ts-node, the
 * compiled .js under `npm run bench`) and waits for `{ type: 'listening', url }`; `call(command)`
 * sends `{ id, command, ...payload }` and resolves with the child's reply.
 * Child side: `serveCommands(handlers)` answers them; `usage` and `stop` are built in.
 */
import { fork, type ChildProcess } from 'node:child_process'

/** Runs the sibling scripts in the same flavour as this file (.ts under ts-node, .js when compiled). */
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js'

export interface Usage {
  /** process.cpuUsage(), microseconds */
  readonly user: number
  readonly system: number
  readonly rss: number
  readonly heapUsed: number
  /** The highest RSS the child sampled since it started (every 100 ms). */
  readonly peakRss: number
}

interface Reply { id: number, error?: string, [key: string]: unknown }

export class BenchChild {
  readonly name: string
  readonly url: string
  readonly #process: ChildProcess
  #nextId = 1
  readonly #pending = new Map<number, { resolve: (reply: Reply) => void, reject: (error: Error) => void }>()

  private constructor (name: string, child: ChildProcess, url: string) {
    this.name = name
    this.#process = child
    this.url = url
    child.on('message', (message: Reply) => {
      const pending = this.#pending.get(message.id)
      if (pending === undefined) return
      this.#pending.delete(message.id)
      if (message.error !== undefined) pending.reject(new Error(`${name}: ${message.error}`))
      else pending.resolve(message)
    })
    child.on('exit', (code, signal) => {
      for (const { reject } of this.#pending.values()) reject(new Error(`${name} exited (${code ?? signal})`))
      this.#pending.clear()
    })
  }

  static start (name: string, options: { args?: string[], env?: Record<string, string>, execArgv?: string[] } = {}): Promise<BenchChild> {
    const script = new URL(`../servers/${name}${EXTENSION}`, import.meta.url)
    const child = fork(script, options.args ?? [], {
      // The gateway's JSON logs go to /dev/null: written as in production, read by nobody.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, ...options.env },
      execArgv: [...process.execArgv, ...(options.execArgv ?? [])],
    })
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`${name} exited with ${code} before listening`))
      child.once('exit', onExit)
      child.once('message', (message: { type?: string, url?: string }) => {
        child.off('exit', onExit)
        if (message.type !== 'listening' || typeof message.url !== 'string') reject(new Error(`${name}: unexpected first message`))
        else resolve(new BenchChild(name, child, message.url))
      })
    })
  }

  call<T = Record<string, unknown>> (command: string, payload: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (reply: Reply) => void, reject })
      this.#process.send({ id, command, ...payload })
    })
  }

  usage (options: { gc?: boolean } = {}): Promise<Usage> {
    return this.call<Usage>('usage', { gc: options.gc === true })
  }

  async stop (): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.#process.once('exit', () => resolve()))
    this.#process.kill('SIGTERM')
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
}

type Handler = (message: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>

/** Child side: report where it listens, then answer commands until the parent goes away. */
export function serveCommands (url: string, handlers: Record<string, Handler> = {}): void {
  let peakRss = process.memoryUsage.rss()
  setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()) }, 100).unref()
  const builtIn: Record<string, Handler> = {
    usage: (message) => {
      const gc = (globalThis as { gc?: () => void }).gc
      if (message['gc'] === true && gc !== undefined) { gc(); gc() }
      const { user, system } = process.cpuUsage()
      const memory = process.memoryUsage()
      peakRss = Math.max(peakRss, memory.rss)
      return { user, system, rss: memory.rss, heapUsed: memory.heapUsed, peakRss }
    },
  }
  process.on('message', (message: { id: number, command: string }) => {
    const handler = handlers[message.command] ?? builtIn[message.command]
    if (handler === undefined) { process.send!({ id: message.id, error: `unknown command ${message.command}` }); return }
    Promise.resolve().then(() => handler(message as unknown as Record<string, unknown>)).then(
      (reply) => process.send!({ ...reply, id: message.id }),
      (error: unknown) => process.send!({ id: message.id, error: (error as Error).message }),
    )
  })
  // The parent owns this process: when it goes, so does the child.
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
  process.send!({ type: 'listening', url })
}
