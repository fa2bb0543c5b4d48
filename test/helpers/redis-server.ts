/**
 * A private, real Redis for the replay store's tests: Debian's redis-server on a free loopback
 * port, no config file, nothing written to disk, its own empty directory. `stop()` and
 * `start()` again on the same port make the outages; `cli()` asks it things through Debian's
 * redis-cli, a client independent of the one under test.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export interface RedisServerOptions {
  /** The default user's password (`requirepass`). */
  readonly password?: string
  /** ACL users, each as redis.conf's `user` directive takes it (`alice on >secret ~* +@all`). */
  readonly users?: readonly string[]
  /** Serve TLS only (rediss://), with this certificate; clients are not asked for one. */
  readonly tls?: { readonly certFile: string, readonly keyFile: string }
}

export interface RedisServer {
  readonly port: number
  /** redis://127.0.0.1:<port> (rediss:// with TLS) */
  readonly url: string
  readonly running: boolean
  /** Starts it again, on the same port, after `stop()`. */
  start (): Promise<void>
  stop (): Promise<void>
  /** One redis-cli command as the default user (with the password); its output, trimmed. */
  cli (...args: string[]): Promise<string>
  /** Stops it for good and removes its directory. */
  remove (): Promise<void>
}

/** Servers still running, killed if the test process ends first, so none is orphaned. */
const running = new Set<ChildProcess>()
process.on('exit', () => { for (const child of running) child.kill('SIGKILL') })

/** A port free a moment ago: the kernel's pick for port 0, released. Another may take it first (then start retries). */
async function freePort (): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  probe.close()
  await once(probe, 'close')
  return port
}

/** Runs redis-server until it says it accepts connections; rejects with its output if it exits first. */
async function spawnRedis (port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> {
  const listen = options.tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.certFile, '--tls-key-file', options.tls.keyFile, '--tls-auth-clients', 'no']
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'notice']
  if (options.password !== undefined) args.push('--requirepass', options.password)
  // One argument per word: redis-server quotes an argument holding spaces as a single token.
  for (const user of options.users ?? []) args.push('--user', ...user.split(' '))
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  child.once('exit', () => running.delete(child))
  let output = ''
  return await new Promise<ChildProcess>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`redis-server did not start within 10 s: ${output}`)) }, 10_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer)
        child.stdout!.off('data', onData)
        child.stdout!.resume()
        resolve(child)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}: ${output}`)) })
  })
}

export async function startRedisServer (options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'jarm-gateway-redis-'))
  let child: ChildProcess | undefined
  let port = 0
  // A port race (another process bound it between the probe and redis-server) fails fast: try another.
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort()
    try {
      child = await spawnRedis(port, dir, options)
    } catch (error) {
      if (attempt === 5 || !/in use|bind/i.test((error as Error).message)) throw error
    }
  }
  const server: RedisServer = {
    port,
    url: `${options.tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`,
    get running () { return child !== undefined },
    async start () {
      if (child !== undefined) return
      // The port was ours until stop(): a few tries in case the kernel still holds it.
      for (let attempt = 1; child === undefined; attempt++) {
        try {
          child = await spawnRedis(port, dir, options)
        } catch (error) {
          if (attempt === 10) throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
    },
    async stop () {
      if (child === undefined) return
      const stopping = child
      child = undefined
      const exited = once(stopping, 'exit')
      stopping.kill('SIGTERM')
      await exited
    },
    async cli (...args: string[]) {
      const auth = options.password === undefined ? [] : ['--no-auth-warning', '-a', options.password]
      const tls = options.tls === undefined ? [] : ['--tls', '--insecure']
      const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...tls, ...auth, ...args])
      return stdout.trim()
    },
    async remove () {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}
