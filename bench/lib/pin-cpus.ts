/**
 * On Linux with `taskset`: the proxies (gateways and bare proxies) on CPU 1, everything else (the
 * load generator, the upstream) on CPU 0. The proxy is then the only thing on its core: the spread
 * between rounds drops from ±40 % to ±5 % on the 2-core machines here, and a CPU profile's
 * wall-clock samples are the proxy's own time.
 */
import { execFileSync } from 'node:child_process'

function pids (pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', pattern]).toString().trim().split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/** Whether the processes could be pinned (false without taskset, or on one CPU). */
export function pinProxiesApart (): boolean {
  try {
    for (const pid of [...pids('gateway-process.js'), ...pids('bare-proxy.js')]) execFileSync('taskset', ['-acp', '1', pid], { stdio: 'ignore' })
    for (const pid of [...pids('fake-upstream.js'), String(process.pid)]) execFileSync('taskset', ['-acp', '0', pid], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
