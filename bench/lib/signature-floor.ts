/**
 * The floor of a JARM response: one node:crypto signature with the same key type as the gateway's,
 * signed the way the gateway signs (src/jarm/sign-jwt.ts: a KeyObject, ES256 in IEEE P1363 form),
 * in a tight loop in this process. Measured in every round of the run, so that it moves with the
 * machine as the gateway's figures do. It is the cost of a signature with hot caches: inside a
 * request the same signature costs more (BENCHMARKS.md reads it from e-ES256 against e-HS256).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

export type FloorAlg = 'ES256' | 'EdDSA'

/** A signing input the size of a JARM response's (header and claims, base64url): ~500 bytes. */
const INPUT = Buffer.alloc(500, 'eyJhbGciOiJFUzI1NiJ9')
const keys = new Map<FloorAlg, KeyObject>()

function keyFor (alg: FloorAlg): KeyObject {
  let key = keys.get(alg)
  if (key === undefined) {
    key = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : generateKeyPairSync('ed25519').privateKey
    keys.set(alg, key)
  }
  return key
}

/** CPU microseconds (user + system) per signature, over `count` signatures. */
export function signatureFloor (alg: FloorAlg, count: number): number {
  const key = keyFor(alg)
  const signOnce = alg === 'ES256' ? (): Buffer => sign('sha256', INPUT, { key, dsaEncoding: 'ieee-p1363' }) : (): Buffer => sign(null, INPUT, key)
  signOnce()
  const before = process.cpuUsage()
  for (let i = 0; i < count; i++) signOnce()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / count
}
