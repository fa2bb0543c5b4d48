import t from 'tap'
import { findSealedForms } from '../../src/capture/form-post-capture.js'
import { findSealedRedirect, matchesRedirectUri, responseParametersOf } from '../../src/capture/redirect-capture.js'

const S = 'jg1.sealed'
const REQUEST = 'https://id.example/auth/abc'

t.test('a sealed state in the query or the fragment of a Location, relative or absolute', async (t) => {
  t.same(findSealedRedirect(`https://c.example/cb?code=x&state=${S}`, REQUEST)?.where, 'query')
  t.same(findSealedRedirect(`https://c.example/cb#code=x&state=${S}`, REQUEST)?.where, 'fragment')
  const relative = findSealedRedirect(`/cb?code=x&state=${S}`, REQUEST)
  t.equal(relative?.url.href, `https://id.example/cb?code=x&state=${S}`)
  t.equal(relative?.sealedState, S)
  t.equal(findSealedRedirect('https://c.example/cb?code=x&state=plain', REQUEST), undefined, 'not sealed: not ours')
  t.equal(findSealedRedirect('/interaction/abc', REQUEST), undefined, 'no state at all')
  t.equal(findSealedRedirect('http://[::1/cb?state=jg1.x', REQUEST), undefined, 'an unparsable Location is not captured')
})

t.test('response parameters: the redirect_uri own query is kept apart', async (t) => {
  const redirect = findSealedRedirect(`https://c.example/cb?tenant=a%20b&x=1&code=c&state=${S}&iss=i`, REQUEST)!
  t.same(responseParametersOf(redirect, 'https://c.example/cb?tenant=a%20b&x=1'), [['code', 'c'], ['state', S], ['iss', 'i']])
  t.same(responseParametersOf(redirect, 'https://c.example/cb?x=1&tenant=a+b'), [['code', 'c'], ['state', S], ['iss', 'i']], 'compared decoded, in any order')
  t.equal(responseParametersOf(redirect, 'https://c.example/cb?tenant=other'), undefined, 'own query missing: not this flow')
  t.equal(responseParametersOf(redirect, 'https://evil.example/cb?tenant=a%20b&x=1'), undefined, 'another origin')
  t.equal(responseParametersOf(redirect, 'https://c.example/other'), undefined, 'another path')
})

t.test('fragment responses: the query must be exactly the own one', async (t) => {
  const fragment = findSealedRedirect(`https://c.example/cb?x=1#code=c&state=${S}&expires_in=300`, REQUEST)!
  t.same(responseParametersOf(fragment, 'https://c.example/cb?x=1'), [['code', 'c'], ['state', S], ['expires_in', '300']])
  t.equal(responseParametersOf(fragment, 'https://c.example/cb'), undefined, 'an extra query parameter')
})

t.test('a form action must be exactly the redirect_uri', async (t) => {
  t.ok(matchesRedirectUri('https://c.example/cb', REQUEST, 'https://c.example/cb'))
  t.ok(matchesRedirectUri('https://c.example/cb?x=1', REQUEST, 'https://c.example/cb?x=1'))
  t.ok(matchesRedirectUri('/cb', 'https://c.example/start', 'https://c.example/cb'), 'relative actions resolve against the page URL')
  t.notOk(matchesRedirectUri('https://c.example/cb?x=2', REQUEST, 'https://c.example/cb?x=1'))
  t.notOk(matchesRedirectUri('https://c.example/cb?x=1&y=2', REQUEST, 'https://c.example/cb?x=1'))
  t.notOk(matchesRedirectUri('https://c.example.evil/cb', REQUEST, 'https://c.example/cb'))
  t.notOk(matchesRedirectUri('http://[::1', REQUEST, 'https://c.example/cb'))
})

t.test('form_post pages: inputs collected, buttons skipped, entities decoded', async (t) => {
  const html = `<!DOCTYPE html><HTML><BODY onload="document.forms[0].submit()">
<form method="post" action="/login"><input name="username"><input type="hidden" name="state" value="${S}-consent"></form>
<FORM METHOD=POST ACTION='https://c.example/cb?a=1&amp;b=2'>
<INPUT TYPE=HIDDEN NAME=code VALUE="a&amp;b&#x41;&#65;&eacute;">
<input name='state' value='${S}' />
<input type="hidden" name="empty">
<input type="text" value="no name">
<input type="submit" name="go" value="Go"><input type="image" name="img"><button name="b">B</button>
</FORM></BODY></HTML>`
  const forms = findSealedForms(html)
  t.equal(forms.length, 2, 'every form carrying a sealed state, the caller picks by action')
  t.equal(forms[0]!.action, '/login')
  t.same(forms[1], { action: 'https://c.example/cb?a=1&b=2', sealedState: S, parameters: [['code', 'a&bAAé'], ['state', S], ['empty', '']] })
  t.same(findSealedForms('<form action="https://c.example/cb"><input name="state" value="plain"></form>'), [], 'plain state: not ours')
  t.same(findSealedForms(`<form><input name="state" value="${S}"></form>`)[0]?.action, '', 'a form without action')
  t.same(findSealedForms('not html at all <<<>>>'), [])
})
