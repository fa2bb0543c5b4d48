/**
 * Capture from a form_post page (OAuth 2.0 Form Post Response Mode): the only module that reads
 * HTML. node-html-parser accepts what real servers write (any tag case, any quoting, XHTML) and
 * decodes entities in attribute values. Pure: a string in, the forms that carry a sealed flow out.
 */
import { parse } from 'node-html-parser'
import type { ParameterList } from '../authorization-request/parameters.js'
import { isSealedState } from '../flow-state/sealed-state.js'

export interface SealedForm {
  /** The form's action, entities decoded, as written (possibly relative). */
  readonly action: string
  readonly parameters: ParameterList
  readonly sealedState: string
}

/** Inputs that a browser would not submit as response parameters. */
const NOT_RESPONSE_INPUT_TYPES = new Set(['submit', 'button', 'image', 'reset'])

export function findSealedForms (html: string): SealedForm[] {
  const forms: SealedForm[] = []
  for (const form of parse(html).querySelectorAll('form')) {
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
