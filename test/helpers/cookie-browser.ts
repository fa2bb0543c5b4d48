/**
 * A browser as far as the gateway's browser binding can tell: its own cookie jar (kept, sent back,
 * dropped on Max-Age=0) and manual redirects. Headers are sent as given, with no Content-Type added.
 */
export class CookieBrowser {
  readonly cookies = new Map<string, string>()

  async get (url: string, init: { method?: string, body?: string | Buffer, headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers }
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ')
    const response = await fetch(url, { method: init.method ?? 'GET', body: init.body, headers, redirect: 'manual' })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';')
      const at = pair!.indexOf('=')
      if (/max-age=0/i.test(cookie)) this.cookies.delete(pair!.slice(0, at))
      else this.cookies.set(pair!.slice(0, at), pair!.slice(at + 1))
    }
    return response
  }
}
