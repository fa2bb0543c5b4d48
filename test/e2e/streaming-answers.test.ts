// Only an answer a browser may render as a page is held back to look for a form_post response;
// every other answer reaches the client from its first byte, while the legacy server is still
// writing it.
import t from 'tap'
import { request as httpRequest } from 'node:http'
import { startFakeStack } from '../helpers/fake-legacy-server.js'

t.test('a text/plain, JSON, CSS, JS or image answer streams before the legacy server has finished it', async (t) => {
  let release = (): void => undefined
  let ended = false
  const fake = await startFakeStack({
    handler: (request, res) => {
      res.writeHead(200, { 'content-type': decodeURIComponent(request.path.slice(1)) })
      // A flow's sealed state in the first bytes would make an inspected page be held to its end.
      res.write('first bytes jg1.')
      const end = (): void => { ended = true; res.end(' last bytes') }
      const timer = setTimeout(end, 3000)
      release = () => { clearTimeout(timer); end() }
    },
  })
  t.teardown(() => fake.close())
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/json', 'text/css', 'text/javascript', 'image/png', 'application/octet-stream']) {
    ended = false
    const first = await new Promise<{ text: string, endedBefore: boolean, rest: Promise<string> }>((resolve, reject) => {
      httpRequest(`${fake.gatewayUrl}/${encodeURIComponent(type)}`, (res) => {
        res.once('data', (chunk: Buffer) => {
          const endedBefore = ended
          const rest = new Promise<string>((done) => {
            let text = ''
            res.on('data', (more: Buffer) => { text += more.toString() })
            res.on('end', () => done(text))
          })
          resolve({ text: chunk.toString(), endedBefore, rest })
        })
      }).on('error', reject).end()
    })
    t.equal(first.text, 'first bytes jg1.', type)
    t.equal(first.endedBefore, false, `${type}: the first bytes came while the answer was still being written`)
    release()
    t.equal(await first.rest, ' last bytes')
  }
})

t.test('a page is still held and inspected: an HTML answer comes whole', async (t) => {
  let ended = false
  const fake = await startFakeStack({
    handler: (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.write('<html>jg1.')
      setTimeout(() => { ended = true; res.end('</html>') }, 200)
    },
  })
  t.teardown(() => fake.close())
  const response = await fetch(`${fake.gatewayUrl}/page`)
  t.equal(ended, true, 'nothing reached the client before the page was read')
  t.equal(await response.text(), '<html>jg1.</html>')
})
