// Properties of the capture step: generated response parameter sets survive a round trip through
// each legacy encoding (query and fragment redirects in several encoders' styles, form_post pages
// as different servers write them), and an answer is only ever captured for the flow's redirect_uri.
import t from 'tap'
import fc from 'fast-check'
import { findSealedForms } from '../../src/capture/form-post-capture.js'
import { findSealedRedirect, matchesRedirectUri, responseParametersOf } from '../../src/capture/redirect-capture.js'
import { FlowStateSealer } from '../../src/flow-state/sealed-state.js'
import { anyText, fcOptions, parameterName, propertyRuns, SEED } from '../helpers/fc-settings.js'

t.comment(`fast-check seed ${SEED} (replay with FC_SEED=${SEED})`)
const runs = propertyRuns(200)
const sealer = new FlowStateSealer(['a-property-test-secret-that-is-long-enough'], 600)
const GATEWAY = 'http://gateway.example:8080/interaction/abc'

const sealedState = fc.constantFrom('query.jwt', 'fragment.jwt', 'form_post.jwt').map((mode) => sealer.seal({ mode: mode as 'query.jwt', clientId: 'c', redirectUri: 'https://c.example/cb', responseType: 'code' }))
/** Response parameters with distinct names, never `state` (the sealed state is added by each case). */
const responseParameters = fc.uniqueArray(fc.tuple(parameterName.filter((n) => n !== 'state'), anyText()), { selector: ([n]) => n, maxLength: 8 })
const redirectUri = fc.oneof(
  fc.constantFrom('https://client.example.org/cb', 'https://client.example.org/cb?tenant=a%20b&x=1', 'http://127.0.0.1:3000/callback', 'https://client.example.org/a/b/c?x=&y=%C3%A9'),
  fc.webUrl({ withQueryParameters: true }).filter((u) => !u.includes('#')),
)

/** Encoders as different servers write a query: WHATWG form style, RFC 3986 style (%20), lowercase hex. */
const encoders: Record<string, (value: string) => string> = {
  form: (value) => new URLSearchParams([['', value]]).toString().slice(1),
  rfc3986: (value) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  lowercase: (value) => encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
}
const encoderName = fc.constantFrom(...Object.keys(encoders))

function encodeWith (style: string, parameters: ReadonlyArray<readonly [string, string]>): string {
  const encode = encoders[style]!
  return parameters.map(([n, v]) => `${encode(n)}=${encode(v)}`).join('&')
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

t.test('query redirects: every parameter comes back in order, the redirect_uri\'s own query taken out', async (t) => {
  fc.assert(fc.property(redirectUri, responseParameters, sealedState, encoderName, fc.nat(8), (uri, parameters, state, style, at) => {
    const answer = [...parameters]
    answer.splice(Math.min(at, answer.length), 0, ['state', state])
    const location = `${uri}${uri.includes('?') ? '&' : '?'}${encodeWith(style, answer)}`
    const redirect = findSealedRedirect(location, GATEWAY)
    return redirect !== undefined && redirect.where === 'query' && redirect.sealedState === state && same(responseParametersOf(redirect, uri), answer)
  }), fcOptions(runs))
  t.pass()
})

t.test('fragment redirects: every parameter comes back in order; the query must be the redirect_uri\'s own', async (t) => {
  fc.assert(fc.property(redirectUri, responseParameters, sealedState, encoderName, (uri, parameters, state, style) => {
    const answer = [...parameters, ['state', state] as const]
    const redirect = findSealedRedirect(`${uri}#${encodeWith(style, answer)}`, GATEWAY)
    const extra = findSealedRedirect(`${uri}${uri.includes('?') ? '&' : '?'}injected=1#${encodeWith(style, answer)}`, GATEWAY)
    return redirect !== undefined && redirect.where === 'fragment' && same(responseParametersOf(redirect, uri), answer) &&
      extra !== undefined && responseParametersOf(extra, uri) === undefined
  }), fcOptions(runs))
  t.pass()
})

t.test('a relative Location is resolved against the request, like a browser does', async (t) => {
  fc.assert(fc.property(responseParameters, sealedState, (parameters, state) => {
    const answer = [...parameters, ['state', state] as const]
    const redirect = findSealedRedirect(`/callback?${encodeWith('form', answer)}`, GATEWAY)
    return redirect !== undefined && same(responseParametersOf(redirect, 'http://gateway.example:8080/callback'), answer) &&
      responseParametersOf(redirect, 'https://gateway.example/callback') === undefined
  }), fcOptions(runs))
  t.pass()
})

t.test('a redirect elsewhere is never this flow\'s answer: another origin, path, or a missing own query parameter', async (t) => {
  const variants = (uri: URL): string[] => {
    const others: string[] = []
    others.push(`${uri.protocol}//attacker.example${uri.port === '' ? '' : `:${uri.port}`}${uri.pathname}${uri.search}`)
    const path = new URL(uri); path.pathname += 'x'; others.push(path.href)
    const scheme = new URL(uri); scheme.protocol = uri.protocol === 'https:' ? 'http:' : 'https:'; others.push(scheme.href)
    const port = new URL(uri); port.port = '4444'; others.push(port.href)
    // Only a query with a parameter in it can go missing (`?&` holds none).
    if ([...uri.searchParams].length > 0) { const query = new URL(uri); query.search = ''; others.push(query.href) }
    return others
  }
  fc.assert(fc.property(redirectUri, responseParameters, sealedState, (uri, parameters, state) => {
    const answer = encodeWith('form', [...parameters, ['state', state]])
    return variants(new URL(uri)).every((other) => {
      const redirect = findSealedRedirect(`${other}${other.includes('?') ? '&' : '?'}${answer}`, GATEWAY)
      return redirect !== undefined && responseParametersOf(redirect, uri) === undefined && !matchesRedirectUri(other, GATEWAY, uri)
    })
  }), fcOptions(runs))
  t.pass()
})

t.test('a Location without a sealed state is never captured, whatever it holds', async (t) => {
  fc.assert(fc.property(fc.oneof(anyText(120), fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.webUrl().map((u) => `${u}?state=${encodeURIComponent('notjg1.x')}`)), (location) => findSealedRedirect(location, GATEWAY) === undefined), fcOptions(runs))
  t.pass()
})

/** How servers write a form_post page: quoting, case, entity style, attribute order, extra inputs. */
const quoteStyles = {
  /** oidc-provider's html_safe: the five characters, double quotes */
  double: (v: string) => `"${v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')}"`,
  /** single quotes, hex entities, &apos; (Spring, XHTML) */
  single: (v: string) => `'${v.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&#x3C;').replace(/"/g, '&#x22;')}'`,
  /** unquoted, every character outside [A-Za-z0-9._-] as a decimal entity (an OWASP encoder) */
  unquoted: (v: string) => [...v].map((c) => /[A-Za-z0-9._-]/.test(c) ? c : `&#${c.codePointAt(0)!};`).join('') || '""',
  /** hex entities for everything non-alphanumeric */
  hex: (v: string) => `"${[...v].map((c) => /[A-Za-z0-9]/.test(c) ? c : `&#x${c.codePointAt(0)!.toString(16)};`).join('')}"`,
}
const pageStyle = fc.record({
  quote: fc.constantFrom(...Object.keys(quoteStyles)) as fc.Arbitrary<keyof typeof quoteStyles>,
  upper: fc.boolean(),
  selfClosing: fc.boolean(),
  valueFirst: fc.boolean(),
  decoyForm: fc.boolean(),
  submitButton: fc.boolean(),
})

/**
 * A browser normalises CR and NUL in a parsed page; the raw-escaping style cannot carry them, the entity styles can.
 * Nor can a page carry C1 controls as numeric references: HTML reads `&#128;` to `&#159;` as the
 * Windows-1252 characters (`&#128;` is €), as browsers and the parser do, so the value differs.
 */
const pageValue = anyText().map((v) => v.replace(/[\r\0\u0080-\u009f]/g, ''))

t.test('form_post pages in every server style: the one form carrying a sealed state comes back whole', async (t) => {
  const pageParameters = fc.uniqueArray(fc.tuple(parameterName.filter((n) => n !== 'state').map((n) => n.replace(/[\r\0]/g, '') || 'n'), pageValue), { selector: ([n]) => n, maxLength: 8 })
  fc.assert(fc.property(redirectUri, pageParameters, sealedState, pageStyle, fc.nat(8), (uri, parameters, state, style, at) => {
    const q = quoteStyles[style.quote]
    const tag = (name: string): string => style.upper ? name.toUpperCase() : name
    const close = style.selfClosing ? ' />' : '>'
    const answer = [...parameters]
    answer.splice(Math.min(at, answer.length), 0, ['state', state])
    const inputs = answer.map(([n, v]) => style.valueFirst
      ? `<${tag('input')} ${tag('value')}=${q(v)} ${tag('type')}=${q('hidden')} ${tag('name')}=${q(n)}${close}`
      : `<${tag('input')} ${tag('type')}=${q(style.upper ? 'HIDDEN' : 'hidden')} ${tag('name')}=${q(n)} ${tag('value')}=${q(v)}${close}`).join('\n')
    const submit = style.submitButton ? `<${tag('input')} ${tag('type')}=${q('submit')} ${tag('name')}=${q('go')} ${tag('value')}=${q('Continue')}${close}` : ''
    const decoy = style.decoyForm ? `<${tag('form')} ${tag('action')}=${q('/search')}><${tag('input')} ${tag('name')}=${q('q')}${close}</${tag('form')}>` : ''
    const page = `<!DOCTYPE html><${tag('html')}><${tag('head')}><title>Submit</title></${tag('head')}><${tag('body')} onload="javascript:document.forms[${style.decoyForm ? 1 : 0}].submit()">${decoy}
<${tag('form')} ${tag('method')}=${q('post')} ${tag('action')}=${q(uri)}>
${inputs}
${submit}<noscript><button type="submit">Continue</button></noscript>
</${tag('form')}></${tag('body')}></${tag('html')}>`
    const forms = findSealedForms(page)
    if (forms.length !== 1 || !same(forms[0]!.parameters, answer) || forms[0]!.action !== uri || forms[0]!.sealedState !== state) {
      t.fail('not captured whole', { style, got: forms.map((f) => ({ action: f.action, parameters: f.parameters })), expected: { action: uri, answer } })
      return false
    }
    return matchesRedirectUri(forms[0]!.action, GATEWAY, uri)
  }), fcOptions(runs))
  t.pass()
})

t.test('pages without a sealed state yield nothing, whatever the HTML', async (t) => {
  fc.assert(fc.property(fc.oneof(anyText(300), fc.array(fc.constantFrom('<form>', '</form>', '<input name="state" value="x">', '<input name=state value=jg1>', '<!--', '-->', '<script>', '</script>', '<textarea>', 'jg1.', '"', "'", '<', '>', '&'), { maxLength: 40 }).map((parts) => parts.join(''))), (html) => findSealedForms(html).length === 0), fcOptions(runs))
  t.pass()
})

t.test('numeric references to C1 controls read as browsers read them (Windows-1252), so the captured value is what a browser would post', async (t) => {
  const [form] = findSealedForms('<form method=post action=https://client.example.org/cb><input type=hidden name=state value=jg1.abc><input type=hidden name=v value=&#128;&#x9f;&#160;></form>')
  t.same(form!.parameters, [['state', 'jg1.abc'], ['v', '€Ÿ\u00a0']])
})
