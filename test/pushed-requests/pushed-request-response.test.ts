import t from 'tap'
import { GatewayError } from '../../src/errors.js'
import { ClientAuthenticationFailed } from '../../src/pushed-requests/client-authentication.js'
import { pushedRequestCreated, pushedRequestError, pushedRequestMethodNotAllowed } from '../../src/pushed-requests/pushed-request-response.js'
import { PushedRequestSealer } from '../../src/pushed-requests/pushed-request-uri.js'

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }

t.test('201 with request_uri and expires_in, not cached (RFC 9126 §2.2)', async (t) => {
  const sealed = new PushedRequestSealer(['response-test-secret-response-test-0123']).seal('app1', [['scope', 'openid']], 90)
  const delivery = pushedRequestCreated(sealed)
  t.equal(delivery.status, 201)
  t.same(delivery.headers, JSON_HEADERS)
  t.same(JSON.parse(delivery.body), { request_uri: sealed.requestUri, expires_in: 90 })
})

t.test('errors as JSON with the catalogue status and OAuth error (RFC 9126 §2.3)', async (t) => {
  const badRequest = pushedRequestError(new GatewayError('invalid_parameter', 'parameter redirect_uri must be absolute'), 'gw')
  t.same(badRequest, { status: 400, headers: JSON_HEADERS, body: JSON.stringify({ error: 'invalid_request', error_description: 'parameter redirect_uri must be absolute' }) })
  const tooLarge = pushedRequestError(new GatewayError('request_body_too_large', 'the pushed request is too large'), 'gw')
  t.equal(tooLarge.status, 413)
  const requestObject = pushedRequestError(new GatewayError('invalid_request_object', 'the request object is not signed'), 'gw')
  t.match(requestObject, { status: 400, body: /"error":"invalid_request_object"/ })
  t.notOk(/<html/i.test(badRequest.body + tooLarge.body), 'never a page')
})

t.test('401 invalid_client: WWW-Authenticate only when the Authorization header was used (RFC 6749 §5.2)', async (t) => {
  const basic = pushedRequestError(new ClientAuthenticationFailed('the client secret of app1 is wrong', true), 'jarm "gateway" \\ realm')
  t.equal(basic.status, 401)
  t.same(basic.headers, { ...JSON_HEADERS, 'www-authenticate': 'Basic realm="jarm \\"gateway\\" \\\\ realm"' })
  t.same(JSON.parse(basic.body), { error: 'invalid_client', error_description: 'the client secret of app1 is wrong' })
  const post = pushedRequestError(new ClientAuthenticationFailed('the client secret of app1 is wrong', false), 'gw')
  t.same(post.headers, JSON_HEADERS, 'client_secret_post: no challenge')
  const assertion = pushedRequestError(new GatewayError('invalid_client', 'client_assertion has expired (exp)'), 'gw')
  t.same(assertion, { status: 401, headers: JSON_HEADERS, body: JSON.stringify({ error: 'invalid_client', error_description: 'client_assertion has expired (exp)' }) })
})

t.test('anything else is a 500 server_error that tells nothing of the bug', async (t) => {
  const delivery = pushedRequestError(new TypeError('secret detail: key=abc'), 'gw')
  t.equal(delivery.status, 500)
  t.same(JSON.parse(delivery.body), { error: 'server_error', error_description: 'the pushed request could not be processed' })
  t.notOk(delivery.body.includes('secret detail'))
})

t.test('405 with Allow: POST for any other method', async (t) => {
  const delivery = pushedRequestMethodNotAllowed()
  t.equal(delivery.status, 405)
  t.same(delivery.headers, { ...JSON_HEADERS, allow: 'POST' })
  t.same(JSON.parse(delivery.body), { error: 'invalid_request', error_description: 'the pushed authorization request endpoint takes POST only' })
})
