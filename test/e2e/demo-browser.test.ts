// The demo in a real browser: headless Debian Chromium (driven by playwright-core, never a
// downloaded browser) goes from the demo's home page through the legacy server's login and consent
// pages to the callback page, for every JARM mode. form_post.jwt is submitted by the browser
// running the gateway's own inline script, under its CSP, with no violation.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { runDemo } from '../../demo/run-demo.js'
import { createLogger } from '../../src/observability/logger.js'

const CHROMIUM = '/usr/bin/chromium'
/** Where the callback page's screenshot is kept for a person to look at. */
export const SCREENSHOT_DIR = join(tmpdir(), 'jarm-gateway-demo-screenshots')

if (!existsSync(CHROMIUM) && process.env['CI'] === undefined) {
  // A developer machine without Chromium skips; in CI (.ci/run installs it) a missing browser fails below.
  t.plan(0, `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`)
} else {
  const logs: string[] = []
  const demo = await runDemo({ gatewayPort: 0, legacyPort: 0, clientPort: 0, logger: createLogger({ destination: new Writable({ write (chunk: Buffer, _e, done) { logs.push(chunk.toString()); done() } }) }) })
  const userDataDir = await mkdtemp(join(tmpdir(), 'jarm-gateway-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(async () => {
    await context.close()
    await demo.close()
    await rm(userDataDir, { recursive: true, force: true })
  })
  // Nothing leaves the machine (the legacy server's pages import a web font).
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort())
  // Any CSP violation in any page is reported on the console, where the test collects it.
  await context.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
  const page = context.pages()[0] ?? await context.newPage()
  const consoleErrors: string[] = []
  // The blocked web-font loads log "Failed to load resource"; every other error counts.
  page.on('console', (message) => { if (message.type() === 'error' && !/^Failed to load resource: net::ERR_FAILED$/.test(message.text())) consoleErrors.push(message.text()) })
  page.on('pageerror', (error) => consoleErrors.push(error.message))
  const gatewayKid = demo.gateway.gateway.config.keyRing.keyFor('ES256')!.kid

  /** From the home page link to the callback page, through login and consent. */
  async function runFlow (p: Page, ctx: BrowserContext, mode: string, responseType: string): Promise<void> {
    await ctx.clearCookies()
    await p.goto(`${demo.client.url}/`)
    await p.click(`#flows a[href="/start?mode=${encodeURIComponent(mode)}&response_type=${encodeURIComponent(responseType)}"]`)
    await p.fill('input[name=login]', 'alice')
    await p.fill('input[name=password]', 'any password')
    await p.click('button[type=submit]')
    await p.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' })
    await p.click('button[type=submit]')
  }

  const transports = { 'query.jwt': 'query', 'fragment.jwt': 'fragment', 'form_post.jwt': 'form_post', jwt: 'query' } as const
  for (const [mode, transport] of Object.entries(transports)) {
    t.test(`response_type=code, response_mode=${mode}: login, consent, verified on the callback page`, async (t) => {
      const gatewayPages: Array<{ status: number, csp: string | undefined }> = []
      const onResponse = (response: import('playwright-core').Response): void => {
        if (response.url().startsWith(demo.gateway.url) && response.request().resourceType() === 'document') gatewayPages.push({ status: response.status(), csp: response.headers()['content-security-policy'] })
      }
      page.on('response', onResponse)
      t.teardown(() => { page.off('response', onResponse) })
      consoleErrors.length = 0
      await runFlow(page, context, mode, 'code')
      await page.waitForSelector('#verdict')
      t.ok(page.url().startsWith(`${demo.client.url}/callback`), 'on the callback page')
      t.equal(await page.getAttribute('#verdict', 'class'), 'ok', await page.textContent('#verdict') ?? '')
      t.equal(await page.textContent('#transport'), transport, `the response arrived in the ${transport}`)
      t.equal(await page.textContent('#mode'), mode)
      t.equal(await page.textContent('#kid'), gatewayKid, 'signed by the gateway key')
      t.equal(await page.textContent('#alg'), 'ES256')
      const key = JSON.parse(await page.textContent('#key') ?? 'null') as Record<string, unknown>
      t.same({ kid: key['kid'], alg: key['alg'], use: key['use'], crv: key['crv'] }, { kid: gatewayKid, alg: 'ES256', use: 'sig', crv: 'P-256' })
      t.notOk('d' in key, 'the public key')
      const claims = JSON.parse(await page.textContent('#claims') ?? '{}') as Record<string, unknown>
      t.equal(claims['iss'], demo.issuer)
      t.equal(claims['aud'], 'app1')
      t.match(await page.textContent('#raw'), /^[\w-]+\.[\w-]+\.[\w-]+$/)
      t.match(await page.textContent('#tokens'), /"id_token_claims"/, 'the code was redeemed')
      if (mode === 'form_post.jwt') {
        const formPage = gatewayPages.find((p) => p.csp?.includes("script-src 'sha256-") === true)
        t.ok(formPage, 'the browser loaded the gateway form_post page under its CSP')
        t.equal(formPage?.status, 200)
        t.same(consoleErrors, [], 'no CSP violation: the inline script ran by hash and submitted the form')
        await mkdir(SCREENSHOT_DIR, { recursive: true })
        const file = join(SCREENSHOT_DIR, 'callback-form_post.jwt.png')
        await page.screenshot({ path: file, fullPage: true })
        t.ok(existsSync(file), `screenshot: ${file}`)
      }
      t.same(consoleErrors.filter((e) => /CSP|Content Security Policy/.test(e)), [], 'no CSP violation')
    })
  }

  t.test('response_type=code id_token, response_mode=jwt: delivered in the fragment', async (t) => {
    await runFlow(page, context, 'jwt', 'code id_token')
    await page.waitForSelector('#verdict')
    t.equal(await page.getAttribute('#verdict', 'class'), 'ok', await page.textContent('#verdict') ?? '')
    t.equal(await page.textContent('#transport'), 'fragment')
    t.match(await page.textContent('#id-token'), /"nonce"/)
  })

  t.test('response_type=code id_token, response_mode=query.jwt: the gateway refuses it on its error page', async (t) => {
    await context.clearCookies()
    await page.goto(`${demo.client.url}/`)
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().startsWith(demo.gateway.url)), page.click('#flows a[href="/start?mode=query.jwt&response_type=code%20id_token"]')])
    t.equal(response.status(), 400)
    t.match(await page.textContent('h1'), /This response mode cannot be used with this response type/)
    t.match(await page.textContent('body'), /response_mode_not_allowed/)
  })
}
