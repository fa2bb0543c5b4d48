// What the gateway reads from a request object without verifying it (RFC 9101), case by case.
import t from 'tap'
import { mayAskForJwtMode, unverifiedPayload } from '../../src/authorization-request/request-object.js'

const jwt = (claims: unknown): string => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`

t.test('payloads read unverified', async (t) => {
  t.same(unverifiedPayload(jwt({ a: 1 })), { a: 1 })
  t.equal(unverifiedPayload('a.b.c.d.e'), undefined, 'encrypted: unreadable')
  t.equal(unverifiedPayload(`x.${Buffer.from('null').toString('base64url')}.y`), undefined)
  t.equal(unverifiedPayload(`x.${Buffer.from('[]').toString('base64url')}.y`), undefined)
  t.equal(unverifiedPayload('x.%%%.y'), undefined)
})

t.test('what may ask for a JWT mode where nothing verifies it', async (t) => {
  t.ok(mayAskForJwtMode([['response_mode', 'query.jwt']]))
  t.notOk(mayAskForJwtMode([['response_mode', 'query'], ['state', 'jwt']]))
  t.ok(mayAskForJwtMode([['request', jwt({ response_mode: 'jwt' })]]), 'inside a request object')
  t.notOk(mayAskForJwtMode([['request', jwt({ response_mode: 'form_post' })]]))
  t.notOk(mayAskForJwtMode([['request', jwt({ response_mode: 42 })]]), 'a mode that is no string is no JWT mode')
  t.notOk(mayAskForJwtMode([['request', jwt({ scope: 'openid' })]]), 'no mode at all')
  t.ok(mayAskForJwtMode([['request', 'a.b.c.d.e']]), 'an object that cannot be read may')
})
