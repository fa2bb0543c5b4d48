/**
 * A scripted browser for the HTTP-level end-to-end tests: a cookie jar, manual redirects, and the
 * legacy server's devInteractions login and consent pages filled in, until the flow leaves for the
 * client (a redirect) or hands it a form to post (form_post). The real browser test drives Chromium.
 */

export type Arrival =
  | { kind: 'redirect', status: number, url: URL, headers: Headers }
  | { kind: 'form', status: number, action: string, fields: Array<[string, string]>, html: string, headers: Headers }
  | { kind: 'page', status: number, text: string, headers: Headers }

/** The parameters a client reads its response from: the form body, the fragment or the query. */
export function callbackParameters (arrival: Arrival): URLSearchParams {
  if (arrival.kind === 'form') return new URLSearchParams(arrival.fields)
  if (arrival.kind !== 'redirect') throw new Error(`the flow ended on a ${arrival.status} page: ${arrival.text}`)
  return arrival.url.hash === '' ? arrival.url.searchParams : new URLSearchParams(arrival.url.hash.slice(1))
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" }
export function decodeEntities (value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => ENTITIES[name]!)
}

/** The form of a page, read with regular expressions (independent of the gateway's HTML parser). */
export function readForm (html: string): { action: string, fields: Array<[string, string]> } | undefined {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html)
  if (form === null) return undefined
  const fields: Array<[string, string]> = []
  for (const input of form[2]!.matchAll(/<input([^>]*)>/gi)) {
    const name = /name="([^"]*)"/.exec(input[1]!)
    const value = /value="([^"]*)"/.exec(input[1]!)
    if (name !== null) fields.push([decodeEntities(name[1]!), decodeEntities(value?.[1] ?? '')])
  }
  return { action: decodeEntities(form[1]!), fields }
}

export class BrowserAgent {
  readonly #cookies = new Map<string, string>()
  readonly #fetch: (url: URL, init: { method: string, body: string | undefined, headers: Record<string, string>, redirect: 'manual' }) => Promise<Response>

  /** `fetchImpl`: another fetch (an HTTPS one that trusts a test CA: https-fetch.ts). */
  constructor (fetchImpl: (url: URL, init: { method: string, body: string | undefined, headers: Record<string, string>, redirect: 'manual' }) => Promise<Response> = fetch) {
    this.#fetch = fetchImpl
  }

  #store (headers: Headers): void {
    for (const cookie of headers.getSetCookie()) {
      const [pair] = cookie.split(';')
      const at = pair!.indexOf('=')
      const name = pair!.slice(0, at).trim()
      const value = pair!.slice(at + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(cookie)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  async request (url: URL, init: { method?: string, body?: string, headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers }
    if (this.#cookies.size > 0) headers['cookie'] = [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; ')
    if (init.body !== undefined) headers['content-type'] ??= 'application/x-www-form-urlencoded'
    const response = await this.#fetch(url, { method: init.method ?? 'GET', body: init.body, headers, redirect: 'manual' })
    this.#store(response.headers)
    return response
  }

  /**
   * Follows a flow from the authorization request until it leaves the gateway's origin, logging in
   * as `login` and consenting (or denying when `deny` is set) on the way.
   */
  async run (start: URL, options: { method?: 'GET' | 'POST', body?: string, deny?: boolean, login?: string, via?: URL } = {}): Promise<Arrival> {
    let url = start
    const gatewayOrigins = new Set([start.origin, options.via?.origin])
    let init: { method?: string, body?: string } = { method: options.method ?? 'GET', body: options.body }
    for (let step = 0; step < 20; step++) {
      const response = await this.request(url, init)
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location !== null) {
        const next = new URL(location, url)
        await response.arrayBuffer()
        if (!gatewayOrigins.has(next.origin)) return { kind: 'redirect', status: response.status, url: next, headers: response.headers }
        // Finish a flow on another gateway process when asked to.
        url = options.via !== undefined ? new URL(next.pathname + next.search, options.via) : next
        init = {}
        continue
      }
      const text = await response.text()
      const form = readForm(text)
      if (form !== undefined && /name="prompt" value="login"/.test(text)) {
        url = new URL(form.action, url)
        init = { method: 'POST', body: new URLSearchParams({ prompt: 'login', login: options.login ?? 'alice', password: 'any' }).toString() }
        continue
      }
      if (form !== undefined && /name="prompt" value="consent"/.test(text)) {
        if (options.deny === true) {
          url = new URL(`${new URL(form.action, url).pathname}/abort`, url)
          init = {}
        } else {
          url = new URL(form.action, url)
          init = { method: 'POST', body: new URLSearchParams({ prompt: 'consent' }).toString() }
        }
        continue
      }
      if (form !== undefined) return { kind: 'form', status: response.status, action: form.action, fields: form.fields, html: text, headers: response.headers }
      return { kind: 'page', status: response.status, text, headers: response.headers }
    }
    throw new Error('the flow did not end within 20 steps')
  }
}
