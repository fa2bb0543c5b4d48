// Which Content-Types a browser may render as a document that can carry a form (src/http/document-type.ts).
import t from 'tap'
import { mayRenderAsDocument, mimeEssence } from '../../src/http/document-type.js'

t.test('documents: HTML, XML types, multipart/x-mixed-replace, and whatever a browser sniffs', async (t) => {
  for (const type of [undefined, '', 'nonsense', ';charset=utf-8', '*/*', 'unknown/unknown', 'Application/Unknown', 'text/html', 'TEXT/HTML; charset=UTF-8', 'application/xhtml+xml',
    'text/xml', 'application/xml', 'image/svg+xml', 'application/rss+xml', 'multipart/x-mixed-replace; boundary=x', 'text/plain, text/html', 'text/plain; a="x,y", text/html']) {
    t.ok(mayRenderAsDocument(type), JSON.stringify(type))
  }
})

t.test('not documents: text a browser shows as text, media, downloads', async (t) => {
  for (const type of ['text/plain', 'text/plain; charset=ISO-8859-1', 'application/json', 'text/css', 'text/javascript', 'application/javascript', 'image/png', 'application/octet-stream', 'application/pdf',
    'text/html, text/plain', 'text/html; a="x, text/html", text/plain', 'text/plain; a="q\\"uoted, text/html"', 'text/plain, nonsense', 'text/plain, */*']) {
    t.notOk(mayRenderAsDocument(type), JSON.stringify(type))
  }
})

t.test('the essence a browser takes: the last value that parses', async (t) => {
  t.equal(mimeEssence('text/plain, text/html'), 'text/html')
  t.equal(mimeEssence('Text/HTML ; charset=utf-8'), 'text/html')
  t.equal(mimeEssence('text/html; q="a,b"'), 'text/html', 'a comma inside quotes splits nothing')
  t.equal(mimeEssence('text/html, */*'), 'text/html', '*/* is skipped')
  t.equal(mimeEssence('text/html; a="x\\'), 'text/html', 'a backslash ending the field inside quotes escapes nothing')
  t.equal(mimeEssence('bad type'), undefined)
  t.equal(mimeEssence(undefined), undefined)
})
