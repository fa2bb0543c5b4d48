// What an authorization request stands for before it is planned: request objects verified for real
// (jose-signed, src/request-objects/verify-request-object.ts) and replaced by their parameters,
// request_uris of the gateway's PAR endpoint opened, and each client's registered policy enforced,
// with refusals delivered only to a redirect_uri something vouches for.
import t from 'tap'
import { expandAuthorizationRequest, RequestRefusal, type ClientRequestPolicy, type ExpansionContext } from '../../src/authorization-request/expand-request.js'
import type { ParameterList } from '../../src/authorization-request/parameters.js'
import { GatewayError } from '../../src/errors.js'
import { verifyRequestObject } from '../../src/request-objects/verify-request-object.js'
import { AUTHORIZATION_PARAMETERS, CLIENT_ID, clientKeyPair, clientWith, goodClaims, policyWith, REDIRECT_URI, signedObject } from '../helpers/request-objects.js'

const key = await clientKeyPair('PS256')
const other = await clientKeyPair('PS256', 'other')
const client = clientWith([key.publicJwk])
const sign = async (claims: Record<string, unknown> = goodClaims(), by = key): Promise<string> => signedObject(claims, by.privateKey, { alg: 'PS256', kid: by.kid })
const basePolicy: ClientRequestPolicy = { requireSignedRequestObject: false, requirePushedAuthorizationRequests: false, verifiable: true, redirectUris: [] }

function context (policy: ClientRequestPolicy | undefined = basePolicy, extra: Partial<ExpansionContext> = {}): ExpansionContext {
  return {
    channel: 'front',
    clientPolicy: (clientId) => clientId === CLIENT_ID ? policy : undefined,
    verifyRequestObject: async (jwt, clientId) => verifyRequestObject(jwt, { ...client, clientId }, policyWith()),
    ...extra,
  }
}

async function refusalOf (promise: Promise<unknown>): Promise<RequestRefusal | GatewayError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof RequestRefusal || error instanceof GatewayError) return error
    throw error
  }
  throw new Error('expected a refusal')
}

t.test('a verified request object stands for its own parameters only, with the outer client_id', async (t) => {
  const request = await sign()
  const expansion = await expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', request], ['state', 'outside'], ['response_type', 'code'], ['response_mode', 'query']], context())
  if (expansion.kind !== 'expanded') throw new Error('expanded')
  t.equal(expansion.signed, true)
  const got = new Map(expansion.parameters)
  t.equal(got.get('state'), 'state-inside', 'a state only outside is ignored')
  t.equal(got.get('response_mode'), 'jwt', 'so is a response_mode outside')
  t.equal(got.get('client_id'), CLIENT_ID)
  t.notOk(got.has('request'), 'the object itself is not forwarded')
  t.same(expansion.parameters.map(([name]) => name).filter((name) => name === 'client_id'), ['client_id'], 'one client_id')
})

t.test('at a PAR endpoint the client\'s authentication stays beside the object\'s parameters; in a browser\'s request it is dropped', async (t) => {
  const expansion = await expandAuthorizationRequest([['client_id', CLIENT_ID], ['client_secret', 's'], ['request', await sign()]], context(basePolicy, { channel: 'pushed' }))
  if (expansion.kind !== 'expanded') throw new Error('expanded')
  t.same(expansion.parameters.slice(0, 2), [['client_id', CLIENT_ID], ['client_secret', 's']])
  t.type(expansion.expiresAt, 'number', 'the object\'s exp')
  const front = await expandAuthorizationRequest([['client_id', CLIENT_ID], ['client_secret', 's'], ['client_assertion', 'x'], ['request', await sign()]], context())
  if (front.kind !== 'expanded') throw new Error('expanded')
  t.notOk(front.parameters.some(([name]) => name === 'client_secret' || name === 'client_assertion'), 'never forwarded or re-signed from a URL')
  const refused = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request_uri', 'urn:x']], context(basePolicy, { channel: 'pushed' })))
  t.match(refused, { code: 'invalid_parameter', message: /must not carry request_uri/ })
})

t.test('a request object that fails verification is refused to a page unless the config vouches for its redirect_uri', async (t) => {
  const forged = await sign(goodClaims(), other)
  const page = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', forged]], context()))
  t.ok(page instanceof RequestRefusal)
  t.match((page as RequestRefusal).error, { code: 'invalid_request_object' })
  t.equal((page as RequestRefusal).delivery, undefined, 'an unverified redirect_uri vouches for nothing')
  const vouched = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', forged]], context({ ...basePolicy, redirectUris: [REDIRECT_URI] })))
  t.match((vouched as RequestRefusal).delivery, { clientId: CLIENT_ID, redirectUri: REDIRECT_URI, mode: 'query.jwt', state: 'state-inside' }, 'the configured redirect_uris vouch for it')
  const malformed = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', 'not.a.jwt']], context({ ...basePolicy, redirectUris: [REDIRECT_URI] })))
  t.equal((malformed as RequestRefusal).delivery, undefined, 'an unreadable object names no redirect_uri')
  const fragment = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', await sign({ ...goodClaims(), response_type: 'code id_token', response_mode: 'form_post.jwt' }, other)]], context({ ...basePolicy, redirectUris: [REDIRECT_URI] })))
  t.match((fragment as RequestRefusal).delivery, { mode: 'form_post.jwt', responseType: 'code id_token' })
})

t.test('other failures of verification are not the client\'s: they propagate as they are', async (t) => {
  const down = new GatewayError('replay_store_unavailable', 'down')
  const error = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', await sign()]], context(basePolicy, { verifyRequestObject: async () => { throw down } })))
  t.equal(error, down)
})

t.test('which request objects are verified', async (t) => {
  const plainObject = await sign({ ...goodClaims(), response_mode: 'query' })
  t.same(await expandAuthorizationRequest([['client_id', 'unknown'], ['request', plainObject]], context()), { kind: 'as_sent' }, 'an unlisted client asking for no JWT mode: the legacy server judges it')
  const jwtObject = await sign()
  const unknown = await refusalOf(expandAuthorizationRequest([['client_id', 'unknown'], ['request', jwtObject]], context()))
  t.match((unknown as RequestRefusal).error, { code: 'invalid_request_object', message: /has no keys or client_secret configured/ }, 'a JWT mode needs the client\'s keys')
  const noClient = await refusalOf(expandAuthorizationRequest([['request', jwtObject]], context()))
  t.match(noClient, { code: 'missing_parameter', message: /client_id is required beside a request object/ })
  t.match(await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', jwtObject], ['request_uri', 'urn:x']], context())), { code: 'invalid_parameter' }, 'request and request_uri together')
  t.match(await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['client_id', 'b']], context())), { code: 'duplicate_parameter' })
  const mismatch = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', jwtObject], ['scope', 'other']], context({ ...basePolicy, redirectUris: [] })))
  t.match((mismatch as RequestRefusal).error, { code: 'invalid_request_object', message: /scope outside the request object differs/ }, 'what FAPI clients repeat outside must agree')
  t.equal((mismatch as RequestRefusal).delivery, undefined, 'a verified object does not vouch for its own redirect_uri: the legacy server never checked it')
  const listedMismatch = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', await sign()], ['scope', 'other']], context({ ...basePolicy, redirectUris: [REDIRECT_URI] })))
  t.match((listedMismatch as RequestRefusal).delivery, { redirectUri: REDIRECT_URI, state: 'state-inside' }, 'the configured redirect_uris do')
  t.match(await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', jwtObject], ['scope', 'a'], ['scope', 'b']], context())), { code: 'duplicate_parameter' }, 'a repeat outside is no JARM error')
})

t.test('request_uris of the gateway\'s own PAR endpoint are opened; the legacy server\'s pass on', async (t) => {
  const uri = 'urn:ietf:params:oauth:request_uri:jgp1.x'
  const pushed: ParameterList = [['client_id', 'spoofed'], ['response_type', 'code'], ['response_mode', 'jwt']]
  const opened: string[] = []
  const own = context(basePolicy, { openPushedRequest: async (requestUri, clientId) => { opened.push(`${clientId} ${requestUri}`); return { parameters: pushed, signed: true } } })
  const expansion = await expandAuthorizationRequest([['client_id', CLIENT_ID], ['request_uri', uri], ['state', 'outside']], own)
  t.same(expansion, { kind: 'expanded', parameters: [['client_id', CLIENT_ID], ['response_type', 'code'], ['response_mode', 'jwt']], signed: true }, 'only the pushed parameters, with the outer client_id')
  t.same(opened, [`${CLIENT_ID} ${uri}`])
  t.match(await refusalOf(expandAuthorizationRequest([['request_uri', uri]], own)), { code: 'missing_parameter' })
  t.same(await expandAuthorizationRequest([['client_id', CLIENT_ID], ['request_uri', uri]], context()), { kind: 'as_sent' }, 'the legacy server\'s PAR')
  t.same(await expandAuthorizationRequest([['client_id', CLIENT_ID], ['request_uri', 'https://client.example/ro.jwt']], context()), { kind: 'as_sent' }, 'by reference: not fetched')
})

t.test('the client\'s policy: require_pushed_authorization_requests, require_signed_request_object, response_modes', async (t) => {
  const fapi: ClientRequestPolicy = { requireSignedRequestObject: true, requirePushedAuthorizationRequests: true, responseModes: new Set(['jwt', 'query.jwt']), verifiable: true, redirectUris: [] }
  const plain: ParameterList = Object.entries(AUTHORIZATION_PARAMETERS)
  const notPushed = await refusalOf(expandAuthorizationRequest(plain, context(fapi)))
  t.match((notPushed as RequestRefusal).error, { code: 'invalid_parameter', message: /must push its authorization requests/ })
  t.equal((notPushed as RequestRefusal).delivery, undefined, 'an unsigned request vouches for nothing')
  const signedFront = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', await sign()]], context(fapi)))
  t.equal((signedFront as RequestRefusal).delivery, undefined, 'a verified object alone vouches for nothing: a page')
  const listedFront = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', await sign()]], context({ ...fapi, redirectUris: [REDIRECT_URI] })))
  t.match((listedFront as RequestRefusal).delivery, { redirectUri: REDIRECT_URI, mode: 'query.jwt', state: 'state-inside' }, 'a listed redirect_uri: a JARM error')
  const unsignedPush = await refusalOf(expandAuthorizationRequest(plain, context(fapi, { channel: 'pushed' })))
  t.match((unsignedPush as RequestRefusal).error, { code: 'invalid_request_object', message: /must send a signed request object/ })
  const pushedUnsigned = context(fapi, { openPushedRequest: async () => ({ parameters: plain, signed: false }) })
  t.match((await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request_uri', 'urn:ietf:params:oauth:request_uri:jgp1.x']], pushedUnsigned)) as RequestRefusal).error, { code: 'invalid_request_object' }, 'pushed without an object')
  const legacyPar = await expandAuthorizationRequest([['client_id', CLIENT_ID], ['request_uri', 'urn:ietf:params:oauth:request_uri:legacy']], context(fapi))
  t.same(legacyPar, { kind: 'as_sent' }, 'the legacy server\'s PAR: the gateway verified the pushed object on its way')
  const wrongMode = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['request', await sign({ ...goodClaims(), response_mode: 'form_post.jwt' })]], context({ ...fapi, requirePushedAuthorizationRequests: false })))
  t.match((wrongMode as RequestRefusal).error, { message: 'response_mode form_post.jwt is not one of the response_modes of client app1' })
  const noMode = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['response_type', 'code id_token']], context({ ...fapi, requirePushedAuthorizationRequests: false, requireSignedRequestObject: false })))
  t.match((noMode as RequestRefusal).error, { message: /response_mode fragment is not one of/ }, 'no response_mode: the response type\'s default counts')
  const bare = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID]], context({ ...fapi, requirePushedAuthorizationRequests: false, requireSignedRequestObject: false })))
  t.match((bare as RequestRefusal).error, { message: /response_mode query is not one of/ })
  t.same(await expandAuthorizationRequest([['client_id', CLIENT_ID], ['response_mode', 'jwt']], context({ ...fapi, requirePushedAuthorizationRequests: false, requireSignedRequestObject: false })), { kind: 'as_sent' })
  const listed = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['redirect_uri', REDIRECT_URI], ['response_mode', 'query']], context({ ...fapi, redirectUris: [REDIRECT_URI], requirePushedAuthorizationRequests: false, requireSignedRequestObject: false })))
  t.match((listed as RequestRefusal).delivery, { redirectUri: REDIRECT_URI, mode: 'query.jwt', responseType: 'code' }, 'a listed redirect_uri vouches: the refusal is a JARM error')
  const badUri = await refusalOf(expandAuthorizationRequest([['client_id', CLIENT_ID], ['redirect_uri', 'not a url'], ['response_mode', 'query']], context({ ...fapi, redirectUris: ['not a url'], requirePushedAuthorizationRequests: false, requireSignedRequestObject: false })))
  t.equal((badUri as RequestRefusal).delivery, undefined)
})
