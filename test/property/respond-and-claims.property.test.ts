// Properties of what reaches the client: the claims of a response, the redirect that carries it, the
// form_post.jwt page and the error page. Generated values never break out of an attribute or the
// page: every page is read back with an independent tokenizer (test/helpers/html-tokens.ts) and
// must have exactly the expected elements and attributes, with the values decoded intact.
import { createHash } from 'node:crypto'
import t from 'tap'
import fc from 'fast-check'
import { ERRORS, GatewayError, isGatewayError, type GatewayErrorCode } from '../../src/errors.js'
import { buildResponseClaims } from '../../src/jarm/response-claims.js'
import { errorPage } from '../../src/respond/error-page.js'
import { escapeHtml } from '../../src/respond/html-escape.js'
import { deliver, formPostPage, redirectLocation } from '../../src/respond/response-delivery.js'
import { anyText, fcOptions, parameterName, propertyRuns, SEED } from '../helpers/fc-settings.js'
import { decodeEntities, tagSequence, tokenize, type Tag } from '../helpers/html-tokens.js'

t.comment(`fast-check seed ${SEED} (replay with FC_SEED=${SEED})`)
const runs = propertyRuns(300)

const RESERVED = new Set(['iss', 'aud', 'exp', 'iat', 'state'])
const claimParameters = fc.uniqueArray(fc.tuple(fc.oneof(parameterName, fc.constantFrom('iss', 'aud', 'exp', 'iat', 'state', '__proto__', 'constructor', 'toString')), fc.oneof(anyText(), fc.stringMatching(/^\d{1,20}$/))), { selector: ([n]) => n, maxLength: 10 })

t.test('claims: iss, aud, exp, iat and state are the gateway\'s; every other parameter is copied; expires_in becomes a number', async (t) => {
  fc.assert(fc.property(anyText(), anyText(), fc.option(anyText(), { nil: undefined }), claimParameters, fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 10, max: 600 }), (issuer, clientId, state, parameters, now, ttl) => {
    const claims = buildResponseClaims({ issuer, clientId, state, parameters, nowSeconds: now, ttlSeconds: ttl })
    // What a client reads: the JSON of the JWT payload, parsed back.
    const read = JSON.parse(JSON.stringify(claims)) as Record<string, unknown>
    // A null-prototype oracle, so a parameter named __proto__ is a claim like any other.
    const expected: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, { iss: issuer, aud: clientId, exp: now + ttl, iat: now })
    if (state !== undefined) expected['state'] = state
    for (const [name, value] of parameters) {
      if (RESERVED.has(name)) continue
      expected[name] = name === 'expires_in' && /^\d{1,15}$/.test(value) ? Number(value) : value
    }
    const keys = Object.keys(read)
    if (keys.length !== Object.keys(expected).length || keys.some((key) => read[key] !== expected[key])) {
      t.fail('claims differ', { read, expected })
      return false
    }
    return true
  }), fcOptions(runs))
  t.pass()
})

t.test('claims: a parameter sent twice by the legacy server is refused, never guessed at', async (t) => {
  fc.assert(fc.property(parameterName, anyText(), anyText(), (name, a, b) => {
    try {
      buildResponseClaims({ issuer: 'i', clientId: 'c', state: undefined, parameters: [[name, a], ['other-unique-name', 'x'], [name, b]], nowSeconds: 0, ttlSeconds: 60 })
      return name === 'other-unique-name'
    } catch (error) {
      return isGatewayError(error) && error.code === 'capture_failed'
    }
  }), fcOptions(runs))
  t.pass()
})

/** Redirect URIs a client may register, with hostile bits where a URL allows them. */
const hostileUri = fc.tuple(
  fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.constantFrom('https://client.example.org/cb', 'http://127.0.0.1/cb?x=1', 'com.example.app:/oauth', 'https://c.example/a?b=%22%3E')),
  fc.array(fc.constantFrom('"', "'", '<', '>', '&', '"><script>alert(1)</script>', "' onmouseover='x", '&quot;', '`', '=', ' ', '%0d%0a', '</form>', '<!--', '\u2028'), { maxLength: 5 }),
  fc.boolean(),
).map(([base, bits, inQuery]) => {
  const url = new URL(base)
  if (inQuery) url.search = `${url.search === '' ? '?' : `${url.search}&`}q=${bits.join('')}`
  return `${url.href.split('#')[0]}${bits.length > 0 && !inQuery ? `#${bits.join('')}` : ''}`
})
const jwtLike = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{1,80}\.[A-Za-z0-9_-]{0,60}$/), anyText(120))

t.test('form_post.jwt page: exactly the expected elements and attributes; action and value read back intact', async (t) => {
  fc.assert(fc.property(hostileUri, jwtLike, (redirectUri, jwt) => {
    const page = formPostPage(redirectUri, jwt)
    const tokens = tokenize(page.body)
    const structure = tagSequence(tokens)
    const expected = ['html', 'head', 'meta', 'title', '/title', 'script', '/script', '/head', 'body', 'form', 'input', 'noscript', 'p', '/p', 'button', '/button', '/noscript', '/form', '/body', '/html']
    if (JSON.stringify(structure) !== JSON.stringify(expected)) { t.fail('structure', { structure, redirectUri }); return false }
    const tags = tokens.filter((token): token is Tag => token.kind === 'start')
    const attributes = (name: string): Array<[string, string]> => tags.find((tag) => tag.name === name)!.attributes
    const action = redirectUri.split('#')[0]
    const script = tokens[tokens.findIndex((token) => token.kind === 'start' && token.name === 'script') + 1] as { text: string }
    const hash = `'sha256-${createHash('sha256').update(script.text).digest('base64')}'`
    return JSON.stringify(attributes('form')) === JSON.stringify([['method', 'post'], ['action', action]]) &&
      JSON.stringify(attributes('input')) === JSON.stringify([['type', 'hidden'], ['name', 'response'], ['value', jwt]]) &&
      JSON.stringify(attributes('button')) === JSON.stringify([['type', 'submit']]) &&
      tags.every((tag) => tag.attributes.every(([name]) => !name.startsWith('on'))) &&
      page.headers['content-security-policy']!.includes(`script-src ${hash};`) &&
      page.headers['cache-control'] === 'no-store' && page.status === 200
  }), fcOptions(runs))
  t.pass()
})

t.test('redirects: response is the only parameter added; the redirect_uri\'s own query stays byte for byte; no fragment survives', async (t) => {
  const base64url = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{1,80}\.[A-Za-z0-9_-]{1,60}$/)
  fc.assert(fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), base64url, fc.constantFrom('query.jwt', 'fragment.jwt') as fc.Arbitrary<'query.jwt' | 'fragment.jwt'>, (redirectUri, jwt, mode) => {
    const location = redirectLocation(mode, redirectUri, jwt)
    const withoutFragment = redirectUri.split('#')[0]!
    const delivered = deliver(mode, redirectUri, jwt)
    if (delivered.status !== 303 || delivered.headers['location'] !== location || delivered.body !== '') return false
    if (mode === 'fragment.jwt') return location === `${withoutFragment}#response=${jwt}`
    return location.startsWith(withoutFragment) && !location.includes('#') && new URL(location).searchParams.getAll('response').length === (new URL(withoutFragment).searchParams.getAll('response').length + 1) &&
      location.endsWith(`response=${jwt}`)
  }), fcOptions(runs))
  t.pass()
})

t.test('error pages: any message and request id stay text; the structure never changes', async (t) => {
  const codes = Object.keys(ERRORS) as GatewayErrorCode[]
  fc.assert(fc.property(fc.constantFrom(...codes), anyText(200), anyText(60), (code, message, requestId) => {
    const page = errorPage(new GatewayError(code, message), requestId)
    const tokens = tokenize(page.body)
    const structure = tagSequence(tokens)
    const expected = ['html', 'head', 'meta', 'title', '/title', '/head', 'body', 'h1', '/h1', 'p', '/p', 'p', 'code', '/code', 'code', '/code', 'code', '/code', '/p', '/body', '/html']
    if (JSON.stringify(structure) !== JSON.stringify(expected)) { t.fail('structure', { structure }); return false }
    const texts = tokens.filter((token) => token.kind === 'text').map((token) => (token as { text: string }).text)
    return (message === '' || texts.includes(message)) && (requestId === '' || texts.includes(requestId)) && page.status === ERRORS[code].status &&
      page.headers['content-security-policy']!.startsWith("default-src 'none'")
  }), fcOptions(runs))
  t.pass()
})

t.test('escapeHtml: the escaped text holds none of the five characters raw and decodes back to the input', async (t) => {
  fc.assert(fc.property(anyText(200), (text) => {
    const escaped = escapeHtml(text)
    return !/[<>"']/.test(escaped) && !/&(?!amp;|lt;|gt;|quot;|#39;)/.test(escaped) && decodeEntities(escaped) === text
  }), fcOptions(runs))
  t.pass()
})

t.test('claims: a parameter named __proto__ reaches the JWT like any other (found by the property above)', async (t) => {
  const claims = buildResponseClaims({ issuer: 'i', clientId: 'c', state: undefined, parameters: [['__proto__', 'x'], ['constructor', 'y']], nowSeconds: 0, ttlSeconds: 60 })
  t.same(JSON.parse(JSON.stringify(claims)), JSON.parse('{"iss":"i","aud":"c","exp":60,"iat":0,"__proto__":"x","constructor":"y"}'))
  t.equal(JSON.stringify(claims), '{"iss":"i","aud":"c","exp":60,"iat":0,"__proto__":"x","constructor":"y"}')
})
