/**
 * A ReplayStore as its interface promises (src/replay/replay-store.ts): the first use of a value is
 * fresh, every later one replayed; `down` makes it throw, as a store that cannot answer does. Calls are
 * recorded so a test can see what was asked.
 */
import type { ReplayKind, ReplayStore } from '../../src/replay/replay-store.js'

export interface FakeReplayStore extends ReplayStore {
  readonly calls: Array<[kind: ReplayKind, clientId: string, id: string, expiresAtSeconds: number]>
  down: boolean
}

export function fakeReplayStore (): FakeReplayStore {
  const seen = new Set<string>()
  return {
    calls: [],
    down: false,
    healthy: true,
    status: 'ok',
    async useOnce (kind, clientId, id, expiresAtSeconds) {
      if (this.down) throw new Error('replay store down')
      this.calls.push([kind, clientId, id, expiresAtSeconds])
      const key = JSON.stringify([kind, clientId, id])
      if (seen.has(key)) return 'replayed'
      seen.add(key)
      return 'fresh'
    },
    async close () {},
  }
}
