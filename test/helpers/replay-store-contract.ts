/**
 * What every ReplayStore must do, checked the same way on the memory and the Redis store: the
 * namespaces never collide, and of many racing uses of one value exactly one is fresh.
 */
import type { Test } from 'tap'
import type { ReplayStore } from '../../src/replay/replay-store.js'

/** Kinds and clients are namespaces; a separator inside a client_id or an id cannot make two pairs one record. */
export async function checkNamespaces (t: Test, store: ReplayStore, expiresAtSeconds: number): Promise<void> {
  const pairs: Array<[Parameters<ReplayStore['useOnce']>[0], string, string]> = [
    ['request_object_jti', 'app1', 'ns-1'], ['client_assertion_jti', 'app1', 'ns-1'], ['request_uri', 'app1', 'ns-1'],
    ['request_object_jti', 'app2', 'ns-1'],
    ['request_object_jti', 'a\u0000b', 'c'], ['request_object_jti', 'a', 'b\u0000c'],
    ['request_object_jti', 'a', 'b","c'], ['request_object_jti', 'a","b', 'c'],
  ]
  for (const [kind, clientId, id] of pairs) t.equal(await store.useOnce(kind, clientId, id, expiresAtSeconds), 'fresh', `${kind} ${JSON.stringify(clientId)} ${JSON.stringify(id)}`)
  for (const [kind, clientId, id] of pairs) t.equal(await store.useOnce(kind, clientId, id, expiresAtSeconds), 'replayed')
}

/** 100 parallel uses of one value, spread over the stores (replicas): exactly one is fresh. */
export async function checkOneFreshOfMany (t: Test, stores: readonly ReplayStore[], expiresAtSeconds: number): Promise<void> {
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => stores[i % stores.length]!.useOnce('request_object_jti', 'app1', 'raced', expiresAtSeconds)))
  t.equal(answers.filter((a) => a === 'fresh').length, 1)
  t.equal(answers.filter((a) => a === 'replayed').length, 99)
}
