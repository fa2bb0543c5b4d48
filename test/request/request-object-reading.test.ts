// What the gateway reads from a request object without verifying it (RFC 9101), case by case.
import t from 'tap'
import { JwtModeInRequestObject, refuseJwtModeInRequestObject, unverifiedPayload, viewRequestObject } from '../../src/authorization-request/request-object.js'
import type { JarmResponseMode } from '../../src/authorization-request/response-mode.js'

const jwt = (claims: unknown): string => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
const ALL: ReadonlySet<JarmResponseMode> = new Set(['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'])

t.test('views', async (t) => {
  t.same(viewRequestObject(new Map()), { kind: 'none' })
  t.same(viewRequestObject(new Map([['request_uri', 'urn:ietf:params:oauth:request_uri:abc']])), { kind: 'pushed' })
  t.same(viewRequestObject(new Map([['request_uri', 'https://client.example.org/ro.jwt']])), { kind: 'by_reference' })
  t.same(viewRequestObject(new Map([['request', 'a.b.c.d.e']])), { kind: 'opaque' })
  t.same(viewRequestObject(new Map([['request', jwt({ a: 1 })]])), { kind: 'readable', claims: { a: 1 } })
  t.equal(unverifiedPayload(`x.${Buffer.from('null').toString('base64url')}.y`), undefined)
  t.equal(unverifiedPayload(`x.${Buffer.from('[]').toString('base64url')}.y`), undefined)
  t.equal(unverifiedPayload('x.%%%.y'), undefined)
})

t.test('refusals', async (t) => {
  const outer = (request: string, extra: Record<string, string> = {}): Map<string, string> => new Map(Object.entries({ request, ...extra }))
  t.doesNotThrow(() => refuseJwtModeInRequestObject(outer(jwt({ response_mode: 'query' })), ALL), 'a plain mode passes')
  t.doesNotThrow(() => refuseJwtModeInRequestObject(outer(jwt({ response_mode: 42 })), ALL), 'a non-string mode is the legacy server\'s to refuse')
  t.doesNotThrow(() => refuseJwtModeInRequestObject(outer(jwt({ response_mode: 'query.jwt' })), new Set(['form_post.jwt'])), 'a mode the gateway does not offer is the legacy server\'s to refuse')
  const refusal = (() => {
    try {
      refuseJwtModeInRequestObject(outer(jwt({ response_mode: 'jwt', redirect_uri: 'https://c.example/cb', state: 's' }), { client_id: 'app4', response_type: 'code id_token' }), ALL)
    } catch (error) {
      return error
    }
    return undefined
  })()
  t.ok(refusal instanceof JwtModeInRequestObject)
  t.equal((refusal as JwtModeInRequestObject).code, 'invalid_request_object')
  t.equal((refusal as JwtModeInRequestObject).status, 400)
  t.same((refusal as JwtModeInRequestObject).target, { clientId: 'app4', redirectUri: 'https://c.example/cb', mode: 'jwt', responseType: 'code id_token', state: 's' })
  t.throws(() => refuseJwtModeInRequestObject(outer(jwt({ response_mode: 'query.jwt' }), { redirect_uri: 'https://c.example/cb' }), ALL), { code: 'invalid_request_object', target: undefined }, 'no client_id anywhere: nowhere to send it')
})
