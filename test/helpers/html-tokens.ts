/**
 * A small HTML tokenizer written for the tests, independent of node-html-parser: it splits a page
 * into tags (with their attributes, quoted or not, entities decoded) and text, following the HTML
 * tokenizer's rules for the states a generated page can reach (data, tag open, attribute values in
 * each quoting, raw text inside <script> and <style>, comments, the doctype).
 */
export interface Tag { readonly kind: 'start' | 'end', readonly name: string, readonly attributes: Array<[string, string]>, readonly selfClosing: boolean }
export type Token = Tag | { readonly kind: 'text', readonly text: string } | { readonly kind: 'comment' | 'doctype', readonly text: string }

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' }

export function decodeEntities (text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') return String.fromCodePoint(body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10))
    return NAMED[body.toLowerCase()] ?? whole
  })
}

const SPACE = /[\t\n\f\r ]/

export function tokenize (html: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let text = ''
  const flush = (): void => { if (text !== '') tokens.push({ kind: 'text', text: decodeEntities(text) }); text = '' }
  while (i < html.length) {
    if (html[i] !== '<') { text += html[i++]; continue }
    if (html.startsWith('<!--', i)) {
      flush()
      const end = html.indexOf('-->', i + 4)
      tokens.push({ kind: 'comment', text: html.slice(i + 4, end === -1 ? html.length : end) })
      i = end === -1 ? html.length : end + 3
      continue
    }
    if (/^<!doctype/i.test(html.slice(i, i + 9))) {
      flush()
      const end = html.indexOf('>', i)
      tokens.push({ kind: 'doctype', text: html.slice(i + 9, end).trim() })
      i = end + 1
      continue
    }
    const end = html[i + 1] === '/'
    const nameMatch = /^[A-Za-z][^\t\n\f\r />]*/.exec(html.slice(i + (end ? 2 : 1)))
    if (nameMatch === null) { text += html[i++]; continue }
    flush()
    const name = nameMatch[0].toLowerCase()
    i += (end ? 2 : 1) + nameMatch[0].length
    const attributes: Array<[string, string]> = []
    let selfClosing = false
    for (;;) {
      while (i < html.length && SPACE.test(html[i]!)) i++
      if (i >= html.length) break
      if (html[i] === '>') { i++; break }
      if (html.startsWith('/>', i)) { selfClosing = true; i += 2; break }
      if (html[i] === '/') { i++; continue }
      const attrName = /^[^\t\n\f\r />][^\t\n\f\r />=]*/.exec(html.slice(i))![0]
      i += attrName.length
      while (i < html.length && SPACE.test(html[i]!)) i++
      let value = ''
      if (html[i] === '=') {
        i++
        while (i < html.length && SPACE.test(html[i]!)) i++
        const quote = html[i]
        if (quote === '"' || quote === "'") {
          const close = html.indexOf(quote, i + 1)
          value = html.slice(i + 1, close === -1 ? html.length : close)
          i = close === -1 ? html.length : close + 1
        } else {
          const unquoted = /^[^\t\n\f\r >]*/.exec(html.slice(i))![0]
          value = unquoted
          i += unquoted.length
        }
      }
      attributes.push([attrName.toLowerCase(), decodeEntities(value)])
    }
    tokens.push({ kind: end ? 'end' : 'start', name, attributes, selfClosing })
    if (!end && (name === 'script' || name === 'style')) {
      const close = html.toLowerCase().indexOf(`</${name}`, i)
      const raw = html.slice(i, close === -1 ? html.length : close)
      if (raw !== '') tokens.push({ kind: 'text', text: raw })
      i = close === -1 ? html.length : close
    }
  }
  flush()
  return tokens
}

/** The tags only, as `name` / `/name`, to compare a page's structure with the expected one. */
export function tagSequence (tokens: Token[]): string[] {
  return tokens.filter((token): token is Tag => token.kind === 'start' || token.kind === 'end').map((tag) => tag.kind === 'end' ? `/${tag.name}` : tag.name)
}
