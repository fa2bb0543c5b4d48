// The authorization endpoint is recognised under every spelling a server routes to it.
import t from 'tap'
import fc from 'fast-check'
import { canonicalPath, canonicalPathOfAny, matchesEndpointPath } from '../../src/authorization-request/endpoint-path.js'
import { fcOptions, propertyRuns, SEED } from '../helpers/fc-settings.js'

t.comment(`fast-check seed ${SEED} (replay with FC_SEED=${SEED})`)
const runs = propertyRuns(300)

t.test('spellings servers route to one handler are one endpoint', async (t) => {
  for (const spelling of ['/auth', '/auth/', '//auth', '/AUTH', '/Auth//', '/auth;jsessionid=1', '/%61uth', '/%61%75%74%68', '/./auth', '/x/../auth', '\\auth', '/auth/.', '/%2e/auth', '/auth%2F', '/%2Fauth', '/auth%3Bx', '%5Cauth']) {
    t.ok(matchesEndpointPath(spelling, '/auth'), spelling)
  }
  t.ok(matchesEndpointPath('/realms/Main/protocol/openid-connect/auth/', '/realms/main/protocol/openid-connect/auth'))
  for (const other of ['/auth2', '/au', '/token', '/a/auth', '/a%2Fauth', '/auth%3F']) t.notOk(matchesEndpointPath(other, '/auth'), other)
  t.equal(canonicalPath('/'), '/')
  t.equal(canonicalPath('//;x/'), '/')
  t.equal(canonicalPath('/a%3fb'), '/a%3fb', 'a reserved escape stays an escape (upper-cased, then the path lower-cased)')
  t.equal(canonicalPath('/a%2fb%3Bc'), '/a/b', 'but the delimiters some servers decode before routing are read as such')
})

const segment = fc.stringMatching(/^[A-Za-z0-9_~.-]{1,8}$/).filter((s) => s !== '.' && s !== '..')
const endpoint = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`)

t.test('any endpoint path: every routing-equivalent spelling matches, and its canonical form is stable', async (t) => {
  const respell = (path: string, how: { slash: boolean, trailing: boolean, upper: boolean, escape: number, parameter: boolean }): string => {
    let out = path.split('/').map((s, i) => i === 0 || !how.parameter ? s : `${s};v=1`).join('/')
    if (how.upper) out = out.toUpperCase()
    if (how.escape > 0) out = out.replace(/[a-z]/i, (c) => `%${c.charCodeAt(0).toString(16)}`)
    if (how.slash) out = out.replace('/', '//')
    if (how.trailing) out += '/'
    return out
  }
  fc.assert(fc.property(endpoint, fc.record({ slash: fc.boolean(), trailing: fc.boolean(), upper: fc.boolean(), escape: fc.nat(1), parameter: fc.boolean() }), (path, how) => {
    const spelled = respell(path, how)
    return matchesEndpointPath(spelled, path) && canonicalPath(canonicalPath(spelled)) === canonicalPath(spelled)
  }), fcOptions(runs))
  fc.assert(fc.property(endpoint, endpoint, (a, b) => matchesEndpointPath(a, b) === (a.toLowerCase() === b.toLowerCase())), fcOptions(runs))
  t.pass()
})

t.test('the shortcuts for plain paths agree with the general canonical form', async (t) => {
  // Characters that make a path plain, and the ones that make it not (escapes, parameters, dots, doubled slashes, backslashes).
  const character = fc.constantFrom(...'/aAzZ09.;%2F61_~-!$&\'()*+,=:@\\ '.split(''))
  const path = fc.array(character, { maxLength: 14 }).map((characters) => `/${characters.join('')}`)
  fc.assert(fc.property(path, (p) => canonicalPath(p) === canonicalPathOfAny(p)), fcOptions(runs * 20))
  // A format suffix (`.json`, `.do`) on the last segment, after at least one character, names the endpoint too.
  const withoutSuffix = (canonical: string): string => {
    const segment = canonical.slice(canonical.lastIndexOf('/') + 1)
    const dot = segment.lastIndexOf('.')
    const suffix = segment.slice(dot + 1)
    return dot > 0 && suffix.length >= 1 && suffix.length <= 10 && [...suffix].every((c) => (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? canonical.slice(0, canonical.length - suffix.length - 1) : canonical
  }
  fc.assert(fc.property(path, path, (requestPath, endpointPath) => matchesEndpointPath(requestPath, endpointPath) ===
    (requestPath === endpointPath || canonicalPathOfAny(requestPath) === canonicalPathOfAny(endpointPath) || withoutSuffix(canonicalPathOfAny(requestPath)) === canonicalPathOfAny(endpointPath))), fcOptions(runs * 20))
  t.ok(matchesEndpointPath('/auth.json', '/auth'), 'a format suffix')
  t.notOk(matchesEndpointPath('/.json', '/'), 'a suffix alone is no segment')
  t.equal(canonicalPath('/a/b/'), '/a/b', 'a plain path less its trailing slash')
  t.equal(canonicalPath('/a/./b'), '/a/b', 'a dot segment takes the general way')
  t.notOk(matchesEndpointPath('/static/app.js', '/auth'), 'a plain path of another length is no match')
})
