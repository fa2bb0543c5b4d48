/**
 * Which answers a browser may render as a document that can carry a form: the only ones the gateway
 * holds back to look for a form_post response (a page read whole before its first byte goes on).
 * Everything else streams from its first byte. Pure.
 *
 * From the standards a browser follows:
 * - The Content-Type is read as Fetch's "extract a MIME type" does: the field's comma-separated
 *   values, commas inside quoted strings kept, the last that parses wins and `*` / `*` is skipped.
 *   `text/plain, text/html` is HTML to a browser, so it is to the gateway.
 * - No usable type (absent, unparseable, `unknown/unknown`, `application/unknown`): the browser
 *   sniffs it (MIME Sniffing §7, "rules for identifying an unknown MIME type"), and a page starting
 *   with `<html` or `<form`... becomes HTML. Inspected.
 * - `text/html`; an XML MIME type (MIME Sniffing §4.6: `text/xml`, `application/xml`, any `+xml`
 *   subtype such as `application/xhtml+xml` or `image/svg+xml`), which HTML §7.4 loads as an XML
 *   document where XHTML elements, forms included, are live; and `multipart/x-mixed-replace`, whose
 *   parts are each loaded by their own type. Inspected.
 * - Anything else the browser renders as text (`text/plain`, JSON, JavaScript, CSS: HTML's
 *   "supported non-XML, non-HTML text type"; sniffing never turns `text/plain` into HTML, MIME
 *   Sniffing §7.2), shows as media, hands to a plug-in or downloads. Streamed.
 */
import { rememberedAnswers } from '../remembered-answers.js'

/** RFC 9110 §5.6.2 token characters, as MIME types spell type and subtype. */
const ESSENCE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\/([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/
const DOCUMENT_TYPES: ReadonlySet<string> = new Set(['text/html', 'text/xml', 'application/xml', 'multipart/x-mixed-replace'])
const SNIFFED_TYPES: ReadonlySet<string> = new Set(['unknown/unknown', 'application/unknown'])

/** The values of a Content-Type field, split at commas outside quoted strings (Fetch "getting, decoding, and splitting"). */
function splitValues (field: string): string[] {
  const values: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!
    if (quoted && c === '\\') {
      current += c + (field[i + 1] ?? '')
      i++
    } else if (c === '"') {
      quoted = !quoted
      current += c
    } else if (c === ',' && !quoted) {
      values.push(current)
      current = ''
    } else {
      current += c
    }
  }
  values.push(current)
  return values
}

/** The essence (`type/subtype`, lower-case) a browser takes from the field, or undefined when it finds none. */
export function mimeEssence (contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined
  let essence: string | undefined
  for (const value of splitValues(contentType)) {
    const candidate = value.split(';', 1)[0]!.trim().toLowerCase()
    if (ESSENCE.test(candidate) && candidate !== '*/*') essence = candidate
  }
  return essence
}

/**
 * Remembered for the last Content-Type values seen: a server sends a handful of them, and reading
 * one character by character was ~1 % of a passthrough (BENCHMARKS.md).
 */
const rendersAsDocument = rememberedAnswers(documentType, { entries: 32, maxLength: 256 })

/** May a browser render an answer with this Content-Type as an HTML or XHTML document? */
export function mayRenderAsDocument (contentType: string | undefined): boolean {
  return contentType === undefined || rendersAsDocument(contentType)
}

function documentType (contentType: string): boolean {
  const essence = mimeEssence(contentType)
  if (essence === undefined || SNIFFED_TYPES.has(essence) || DOCUMENT_TYPES.has(essence)) return true
  return essence.endsWith('+xml')
}
