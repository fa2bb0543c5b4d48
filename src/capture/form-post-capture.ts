/**
 * Capture from a form_post page (OAuth 2.0 Form Post Response Mode): the only module that reads
 * HTML. node-html-parser accepts what real servers write (any tag case, any quoting, XHTML) and
 * decodes entities in attribute values. Pure: a string in, the forms that carry a sealed flow out.
 */
import { HTMLElement, parse } from 'node-html-parser'
import type { ParameterList } from '../authorization-request/parameters.js'
import { isSealedState, SEALED_STATE_PREFIX } from '../flow-state/sealed-state.js'
import { actionTarget, captureRedirect, CREDENTIAL_WITHOUT_STATE, judgeSealedAnswer, matchesRedirectUri, sameEndpoint, type CaptureContext, type CapturedFlow, type CaptureVerdict } from './redirect-capture.js'
import { CREDENTIAL_PARAMETERS } from './response-parameters.js'

export interface SealedForm {
  /** The form's action, entities decoded, as written (possibly relative). */
  readonly action: string
  readonly parameters: ParameterList
  readonly sealedState: string
}

/**
 * Tag names are lowercased while parsing: without it node-html-parser does not see a mixed-case
 * void tag (`<Input ...>`) as void, and drops the form around it.
 */
const PARSE_OPTIONS = { lowerCaseTagName: true }

/** Inputs that a browser would not submit as response parameters. */
const NOT_RESPONSE_INPUT_TYPES = new Set(['submit', 'button', 'image', 'reset'])

/**
 * The elements under `root` with this tag name (upper case), in document order. A plain walk rather
 * than querySelectorAll, whose CSS selector engine about doubled the cost of reading a form_post page
 * (measured ~100 µs → ~50 µs here); iterative, so a deeply nested page cannot overflow the stack.
 */
function elementsNamed (root: HTMLElement, tagName: string): HTMLElement[] {
  const found: HTMLElement[] = []
  const pending: HTMLElement[] = [root]
  while (pending.length > 0) {
    const node = pending.pop()!
    if (node !== root && node.tagName === tagName) found.push(node)
    for (let i = node.childNodes.length - 1; i >= 0; i--) {
      const child = node.childNodes[i]
      if (child instanceof HTMLElement) pending.push(child)
    }
  }
  return found
}

export function findSealedForms (html: string): SealedForm[] {
  return sealedFormsOf(parse(html, PARSE_OPTIONS))
}

function sealedFormsOf (root: HTMLElement): SealedForm[] {
  const forms: SealedForm[] = []
  for (const form of elementsNamed(root, 'FORM')) {
    const parameters: Array<readonly [string, string]> = []
    for (const input of elementsNamed(form, 'INPUT')) {
      const name = input.getAttribute('name')
      const type = (input.getAttribute('type') ?? 'hidden').toLowerCase()
      if (name === undefined || name === '' || NOT_RESPONSE_INPUT_TYPES.has(type)) continue
      parameters.push([name, input.getAttribute('value') ?? ''])
    }
    const state = parameters.find(([name]) => name === 'state')?.[1]
    if (isSealedState(state)) forms.push({ action: form.getAttribute('action') ?? '', parameters, sealedState: state })
  }
  return forms
}

/** A sealed state anywhere in a page's text (base64url after the prefix). */
const SEALED_STATE_IN_TEXT = new RegExp(`${SEALED_STATE_PREFIX.replace('.', '\\.')}[A-Za-z0-9_-]+`, 'g')

/** Opening form tags as written, read apart from the parser that could not tie their inputs to them. */
const FORM_TAG = /<form\b[^>]*>/gi

/** `<meta http-equiv="refresh" content="0; url=...">`: the URL, quotes removed (HTML §4.2.5.3). */
const REFRESH_CONTENT = /^\s*[\d.]*\s*[;,]\s*(?:url\s*=\s*)?(.*)$/is

function refreshTargets (root: HTMLElement): string[] {
  const targets: string[] = []
  for (const meta of elementsNamed(root, 'META')) {
    if ((meta.getAttribute('http-equiv') ?? '').toLowerCase() !== 'refresh') continue
    const url = refreshUrl(meta.getAttribute('content') ?? '')
    if (url !== undefined) targets.push(url)
  }
  return targets
}

/** The redirect_uri without its query: what a page that sends the browser there must contain. */
function endpointText (redirectUri: string): string {
  return redirectUri.split(/[?#]/)[0]!
}

/**
 * A page's verdict. Captured: a form posting a sealed flow to that flow's redirect_uri, or a meta
 * refresh to it (read like a Location). Unreadable (fail closed): such a form or refresh going to
 * the redirect_uri's endpoint with another query; a sealed state outside every form the parser read
 * on a page with a `<form>` tag that posts to that flow's redirect_uri (a form_post page too broken
 * to parse, or one whose inputs a script adds); a script that holds a sealed state and the flow's
 * redirect_uri (a `location.replace(...)` redirect). Left alone otherwise: a login page that carries
 * the state in its own form, or shows it as text (oidc-provider's development pages do).
 */
/** HTML §4.2.3: the document's base URL is its first `<base href>`, resolved against its own URL. */
function documentBase (root: HTMLElement, url: string): string {
  const href = elementsNamed(root, 'BASE').find((element) => element.getAttribute('href') !== undefined)?.getAttribute('href')
  if (href === undefined) return url
  try {
    return new URL(href, url).href
  } catch {
    return url
  }
}

/** The URL of a Refresh value (`0; url=...`, an HTTP header or a meta element's content), quotes removed. */
export function refreshUrl (content: string): string | undefined {
  const url = REFRESH_CONTENT.exec(content)?.[1]?.trim()
  return url === undefined || url === '' ? undefined : url.replace(/^(['"])(.*)\1$/s, '$2')
}

/**
 * Whether a page that carries no sealed state may still send the browser on by itself: a form or
 * a meta refresh can only be written as a tag. On the request that sealed a flow such a page is
 * read (captureFormPost, `context.sealedHere`); any other goes on unparsed.
 */
export function maySendBrowserOn (html: string): boolean {
  return /<(?:form|meta)\b/i.test(html)
}

/** Where a form posts: its action (relative ones against `base`), or the page's own URL without one (HTML §4.10.21.3); undefined when the action does not parse, and a browser submits nothing. */
function formTarget (action: string, pageUrl: string, base: string): URL | undefined {
  try {
    return action === '' ? new URL(pageUrl) : new URL(action, base)
  } catch {
    return undefined
  }
}

export function captureFormPost<F extends CapturedFlow> (html: string, pageUrl: string, open: (sealed: string) => F, context: CaptureContext): CaptureVerdict<F> {
  const root = parse(html, PARSE_OPTIONS)
  const base = documentBase(root, pageUrl)
  const forms = sealedFormsOf(root)
  for (const form of forms) {
    const flow = open(form.sealedState)
    const target = formTarget(form.action, pageUrl, base)
    if (target === undefined) continue
    const verdict = judgeSealedAnswer(flow, form.sealedState, target, form.parameters,
      () => matchesRedirectUri(form.action, base, flow.redirectUri) ? form.parameters : undefined, context)
    if (verdict.kind !== 'not_a_response') return verdict
  }
  for (const target of refreshTargets(root)) {
    const verdict = captureRedirect(target, base, open, context)
    if (verdict.kind !== 'not_a_response') return verdict
  }
  const inForms = new Set(forms.map((form) => form.sealedState))
  const strays = new Map<string, F>()
  for (const [sealed] of html.matchAll(SEALED_STATE_IN_TEXT)) {
    if (inForms.has(sealed)) continue
    try {
      strays.set(sealed, open(sealed))
    } catch {
      // A stray token that does not open is not this gateway's flow.
    }
  }
  const flows = [...strays.values()]
  for (const [tag] of flows.length > 0 ? html.matchAll(FORM_TAG) : []) {
    const action = parse(`${tag}</form>`, PARSE_OPTIONS).querySelector('form')!.getAttribute('action') ?? ''
    if (flows.some((flow) => actionTarget(action, base, flow.redirectUri) !== 'elsewhere')) {
      return { kind: 'unreadable', reason: 'the page posts a sealed state to the redirect_uri in a form the gateway cannot read' }
    }
  }
  for (const script of flows.length > 0 ? elementsNamed(root, 'SCRIPT') : []) {
    // JSON and JavaScript strings may escape the slashes of a URL.
    const text = script.rawText.replace(/\\\//g, '/')
    for (const [sealed] of text.matchAll(SEALED_STATE_IN_TEXT)) {
      const flow = strays.get(sealed)
      if (flow !== undefined && text.includes(endpointText(flow.redirectUri))) {
        return { kind: 'unreadable', reason: 'a script on the page sends the sealed state to the redirect_uri' }
      }
    }
  }
  // The request that sealed a flow: a form posting a credential to its redirect_uri without the
  // sealed state (meta refreshes were judged above, by captureRedirect).
  if (context.sealedHere !== undefined && formSendsCredentialTo(root, pageUrl, base, context.sealedHere)) return CREDENTIAL_WITHOUT_STATE
  return { kind: 'not_a_response' }
}

/** The elements a form submits by name (HTML §4.10.2 "submittable elements"). */
const SUBMITTABLE = ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON']

/**
 * Whether a form can post a credential-named field to `redirectUri`: its action, or a submit
 * button's `formaction`, goes there; its fields are the submittable elements inside it and those
 * outside that name it with `form="id"` (HTML §4.10.17.3).
 */
function formSendsCredentialTo (root: HTMLElement, pageUrl: string, base: string, redirectUri: string): boolean {
  const submittable = SUBMITTABLE.flatMap((tag) => elementsNamed(root, tag))
  for (const form of elementsNamed(root, 'FORM')) {
    const id = form.getAttribute('id')
    const fields = [...SUBMITTABLE.flatMap((tag) => elementsNamed(form, tag)), ...(id === undefined ? [] : submittable.filter((field) => field.getAttribute('form') === id))]
    if (!fields.some((field) => CREDENTIAL_PARAMETERS.has(field.getAttribute('name') ?? ''))) continue
    const actions = [form.getAttribute('action') ?? '', ...fields.map((field) => field.getAttribute('formaction')).filter((action): action is string => action !== undefined)]
    if (actions.some((action) => { const target = formTarget(action, pageUrl, base); return target !== undefined && sameEndpoint(target, redirectUri) })) return true
  }
  return false
}
