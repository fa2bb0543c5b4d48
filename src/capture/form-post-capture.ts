/**
 * Capture from a form_post page (OAuth 2.0 Form Post Response Mode): the only module that reads
 * HTML. node-html-parser accepts what real servers write (any tag case, any quoting, XHTML) and
 * decodes entities in attribute values. Pure: a string in, the forms that carry a sealed flow out.
 */
import { parse } from 'node-html-parser'
import type { ParameterList } from '../authorization-request/parameters.js'
import { isSealedState, SEALED_STATE_PREFIX } from '../flow-state/sealed-state.js'
import { actionTarget, type CaptureVerdict } from './redirect-capture.js'

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

export function findSealedForms (html: string): SealedForm[] {
  const forms: SealedForm[] = []
  for (const form of parse(html, PARSE_OPTIONS).querySelectorAll('form')) {
    const parameters: Array<readonly [string, string]> = []
    for (const input of form.querySelectorAll('input')) {
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

/**
 * A page's verdict: captured when a form posting a sealed flow goes to that flow's redirect_uri;
 * unreadable (fail closed) when such a form goes to the redirect_uri's endpoint with another query,
 * or when the page holds a sealed state outside every form the parser read and a `<form>` tag that
 * posts to that flow's redirect_uri (a form_post page too broken to parse, or one whose inputs a
 * script adds); left alone otherwise: a login page that carries the state in its own form, or
 * shows it as text (oidc-provider's development pages do), is not a response.
 */
export function captureFormPost<F extends { readonly redirectUri: string }> (html: string, base: string, open: (sealed: string) => F): CaptureVerdict<F> {
  const forms = findSealedForms(html)
  for (const form of forms) {
    const flow = open(form.sealedState)
    const target = actionTarget(form.action, base, flow.redirectUri)
    if (target === 'redirect_uri') return { kind: 'capture', flow, parameters: form.parameters }
    if (target === 'endpoint') return { kind: 'unreadable', reason: 'the form posts to the redirect_uri without its own query' }
  }
  const inForms = new Set(forms.map((form) => form.sealedState))
  const flows: F[] = []
  for (const [sealed] of html.matchAll(SEALED_STATE_IN_TEXT)) {
    if (inForms.has(sealed)) continue
    try {
      flows.push(open(sealed))
    } catch {
      // A stray token that does not open is not this gateway's flow.
    }
  }
  for (const [tag] of flows.length > 0 ? html.matchAll(FORM_TAG) : []) {
    const action = parse(`${tag}</form>`, PARSE_OPTIONS).querySelector('form')!.getAttribute('action') ?? ''
    if (flows.some((flow) => actionTarget(action, base, flow.redirectUri) !== 'elsewhere')) {
      return { kind: 'unreadable', reason: 'the page posts a sealed state to the redirect_uri in a form the gateway cannot read' }
    }
  }
  return { kind: 'not_a_response' }
}
